// The fields each enroll operation must carry, checked before anything else runs and
// answered with the reference server's texts (AT0011).
import { InternalServerException } from "@atplatform/protocol/src/core";
import type { EnrollRequest } from "./enrollments";

export type EnrollOp = "request" | "approve" | "deny" | "revoke" | "unrevoke" | "fetch" | "delete";

function missing(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

function need(value: unknown, message: string): void {
  if (missing(value)) throw new InternalServerException(message);
}

export type ValidRequest = EnrollRequest & {
  appName: string;
  deviceName: string;
  apkamPublicKey: string;
};

export function validateRequest(req: EnrollRequest): asserts req is ValidRequest {
  validateEnrollParams("request", req);
}

export function validateEnrollParams(op: EnrollOp, req: EnrollRequest): void {
  switch (op) {
    case "request":
      need(req.appName, "appName is mandatory for enroll:request");
      need(req.deviceName, "deviceName is mandatory for enroll:request");
      need(req.apkamPublicKey, "apkam public key is mandatory for enroll:request");
      if (req.otp !== undefined && req.otp !== null) validateNewClient(req);
      return;
    case "approve":
      need(req.enrollmentId, "enrollmentId is mandatory for enroll:approve");
      need(
        req.encryptedDefaultEncryptionPrivateKey,
        "encryptedDefaultEncryptionPrivateKey is mandatory for enroll:approve",
      );
      need(
        req.encryptedDefaultSelfEncryptionKey,
        "encryptedDefaultSelfEncryptionKey is mandatory for enroll:approve",
      );
      return;
    default:
      need(req.enrollmentId, `enrollmentId is mandatory for enroll:${op}`);
  }
}

/** A request from a new client (with an OTP) also carries its symmetric key and namespaces. */
function validateNewClient(req: EnrollRequest): void {
  need(
    req.encryptedAPKAMSymmetricKey,
    "encrypted apkam symmetric key is mandatory for new client enroll:request",
  );
  if (!req.namespaces || Object.keys(req.namespaces).length === 0) {
    throw new InternalServerException(
      "At least one namespace must be specified for new client enroll:request",
    );
  }
}
