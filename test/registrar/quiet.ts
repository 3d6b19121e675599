// Imported first by the registrar tests: keep service logs to warnings unless asked.
process.env.LOG_LEVEL ??= "warn";
