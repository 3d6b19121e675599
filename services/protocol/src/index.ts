export * from "./pki";
export * from "./core";
