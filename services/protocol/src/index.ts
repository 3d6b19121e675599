export * from "./pki";
