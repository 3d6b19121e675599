// Imported first by the registrar tests: registrar logs only errors unless LOG_LEVEL says otherwise.
import { setRegistrarLogLevel } from "@atplatform/registrar";

setRegistrarLogLevel((process.env.LOG_LEVEL as "error" | undefined) ?? "error");
