// Every verb's grammar, written once (Part B §3). The server parses with these; the client
// builds its command lines with the same objects (`grammar.format(params)`). Each usage text
// is the reference server's, word for word: it is the wire text of the verb's AT0003 error.
import { field, flag, Grammar, litAny, meta, opt } from "./grammar";
import { type MetadataInput, UPDATE_METADATA_ATTRIBUTES } from "./metadata";

const ATSIGN = "@[^:@\\s]+";
const TOK = "[^:@\\s]+";
const SCOPE = `public|${ATSIGN}`;
const BOOL = "true|false";

export interface FromParams {
  atSign: string;
  clientConfig?: string;
}
export const from = new Grammar<FromParams>(
  "from",
  [
    "from:",
    field("atSign", "@?[^:@\\s]+"),
    opt(":clientConfig:", field("clientConfig", "\\{.+\\}")),
  ],
  "syntax from:@<atSign> \n e.g from:@alice",
);

export interface CramParams {
  digest: string;
}
export const cram = new Grammar<CramParams>(
  "cram",
  ["cram:", field("digest", ".+")],
  "cram:<digest>",
);

export interface PkamParams {
  signingAlgo?: "ecc_secp256r1" | "rsa2048";
  hashingAlgo?: "sha256" | "sha512";
  enrollmentId?: string;
  signature: string;
}
export const pkam = new Grammar<PkamParams>(
  "pkam",
  [
    "pkam:",
    opt("signingAlgo:", field("signingAlgo", "ecc_secp256r1|rsa2048"), ":"),
    opt("hashingAlgo:", field("hashingAlgo", "sha256|sha512"), ":"),
    opt("enrollmentId:", field("enrollmentId", "[^:\\s]+"), ":"),
    field("signature", ".+"),
  ],
  "pkam:<signature>",
);

export const pol = new Grammar<Record<string, never>>("pol", ["pol"], "syntax pol e.g pol");

/** Shared shape of a key written as `[:(public|@x)]:<key>[@owner]`. */
export interface ScopedKeyParams {
  scope?: string;
  key: string;
  owner?: string;
}

export interface UpdateParams extends ScopedKeyParams {
  metadata?: MetadataInput;
  value: string;
}
export const update = new Grammar<UpdateParams>(
  "update",
  [
    "update",
    meta("metadata", UPDATE_METADATA_ATTRIBUTES),
    opt(":", field("scope", SCOPE)),
    ":",
    field("key", `privatekey:at_pkam_publickey|${TOK}`),
    opt(field("owner", ATSIGN)),
    " ",
    field("value", ".+"),
  ],
  "e.g. update:@alice:location@bob San Francisco",
);

export interface UpdateMetaParams extends ScopedKeyParams {
  owner: string;
  metadata?: MetadataInput;
}
export const updateMeta = new Grammar<UpdateMetaParams>(
  "update:meta",
  [
    "update:meta",
    opt(":", field("scope", SCOPE)),
    ":",
    field("key", TOK),
    field("owner", ATSIGN),
    meta("metadata", UPDATE_METADATA_ATTRIBUTES),
  ],
  "update:meta:ttl:20000:ttb:20000:ttr:20000",
);

export interface LlookupParams extends ScopedKeyParams {
  op?: "meta" | "all";
  cached?: boolean;
  owner: string;
}
export const llookup = new Grammar<LlookupParams>(
  "llookup",
  [
    "llookup",
    opt(":", field("op", "meta|all")),
    flag("cached", ":cached"),
    opt(":", field("scope", SCOPE)),
    ":",
    field("key", "[^:@](?:(?!::)[^@])*"),
    field("owner", ATSIGN),
  ],
  "e.g llookup:location@bob",
);

export interface LookupParams {
  bypassCache?: string;
  op?: "meta" | "all";
  key: string;
  owner: string;
}
export const lookup = new Grammar<LookupParams>(
  "lookup",
  [
    "lookup:",
    opt("bypassCache:", field("bypassCache", BOOL), ":"),
    opt(field("op", "meta|all"), ":"),
    field("key", "[^:].*?"),
    field("owner", "@[^@\\s]+"),
  ],
  "e.g lookup:location@bob",
);

export const plookup = new Grammar<LookupParams>(
  "plookup",
  [
    "plookup:",
    opt("bypassCache:", field("bypassCache", BOOL), ":"),
    opt(field("op", "meta|all"), ":"),
    field("key", "[^:@\\s][^@\\s]*"),
    field("owner", "@[^@\\s]+"),
  ],
  "e.g plookup:location@bob",
);

export interface DeleteParams extends ScopedKeyParams {
  priority?: "low" | "medium" | "high";
  cached?: boolean;
}
export const del = new Grammar<DeleteParams>(
  "delete",
  [
    "delete",
    opt(":priority:", field("priority", "low|medium|high")),
    flag("cached", ":cached"),
    opt(":", field("scope", SCOPE)),
    ":",
    field("key", `privatekey:at_secret|${TOK}`),
    opt(field("owner", ATSIGN)),
  ],
  "syntax delete:@<atkey> \n e.g delete:phone@alice",
);

export interface ScanParams {
  showHidden?: string;
  forAtSign?: string;
  page?: string;
  regex?: string;
}
export const scan = new Grammar<ScanParams>(
  "scan",
  [
    "scan",
    opt(":showHidden:", field("showHidden", BOOL)),
    opt(":", field("forAtSign", ATSIGN)),
    opt(":page:", field("page", "\\d+")),
    opt(" ", field("regex", "\\S+")),
  ],
  "scan",
);

export interface InfoParams {
  brief?: boolean;
}
export const info = new Grammar<InfoParams>("info", ["info", flag("brief", ":brief")], "info");

export interface NoopParams {
  ms: string;
}
export const noop = new Grammar<NoopParams>(
  "noop",
  ["noop:", field("ms", "\\d+")],
  "noop:<durationInMillis>",
);

export interface StatsParams {
  ids?: string;
  regex?: string;
}
export const stats = new Grammar<StatsParams>(
  "stats",
  ["stats", opt(":", field("ids", "[1-9]\\d*(?:,[1-9]\\d*)*"), opt(":", field("regex", ".+")))],
  "stats:1,2,3",
);

const CONFIG_USAGE =
  "configure block syntax config:block:<action>:@<atSign> \n e.g config:block:add:@alice \n " +
  "view syntax config:show:<type> \n e.g config:shoe:allow \n configure set syntax \n " +
  "e.g. config:set:<configName>=<configValue> \n config:reset(or)print:<configName>";

export interface ConfigBlockParams {
  op: "add" | "remove";
  atSigns: string;
}
export const configBlock = new Grammar<ConfigBlockParams>(
  "config:block",
  ["config:block:", field("op", "add|remove"), ":", field("atSigns", "@[^\\s@:]+(?: @[^\\s@:]+)*")],
  CONFIG_USAGE,
);
export const configBlockShow = new Grammar<Record<string, never>>(
  "config:block:show",
  ["config:block:show"],
  CONFIG_USAGE,
);
export interface ConfigSettingParams {
  op: "set" | "reset" | "print";
  name: string;
  value?: string;
}
export const configSetting = new Grammar<ConfigSettingParams>(
  "config:setting",
  [
    "config:",
    field("op", "set|reset|print"),
    ":",
    field("name", "[A-Za-z_]+"),
    opt("=", field("value", ".+")),
  ],
  CONFIG_USAGE,
);

export interface SyncFromParams {
  from: string;
  limit: string;
  regex?: string;
}
export const syncFrom = new Grammar<SyncFromParams>(
  "sync:from",
  [
    "sync:from:",
    field("from", "-1|\\d+"),
    ":limit:",
    field("limit", "\\d+"),
    opt(":", field("regex", ".+")),
  ],
  "syntax sync:from:1:limit:10:.wavi",
);

export interface BatchParams {
  json: string;
}
export const batch = new Grammar<BatchParams>(
  "batch",
  ["batch:", field("json", "\\[.*\\]")],
  'e.g batch:[{"id":1, "commmand":"update:location@alice newyork"},{"id":2, "commmand":"delete:location@alice"}]',
);

export interface MonitorParams {
  strict?: boolean;
  selfNotifications?: boolean;
  multiplexed?: boolean;
  epoch?: string;
  regex?: string;
}
export const monitor = new Grammar<MonitorParams>(
  "monitor",
  [
    "monitor",
    flag("strict", ":strict"),
    flag("selfNotifications", ":selfNotifications"),
    flag("multiplexed", ":multiplexed"),
    opt(":", field("epoch", "\\d+")),
    opt(" ", field("regex", ".+")),
  ],
  "e.g. monitor or monitor .wavi",
);

export interface NotifyParams {
  id?: string;
  operation?: "update" | "delete";
  messageType?: "key" | "text";
  priority?: "low" | "medium" | "high";
  strategy?: "all" | "latest";
  latestN?: string;
  notifier?: string;
  ttln?: string;
  metadata?: MetadataInput;
  /** `public` or the recipient `@bob`. */
  to: string;
  key: string;
  from?: string;
  value?: string;
}
export const notify = new Grammar<NotifyParams>(
  "notify",
  [
    "notify",
    opt(":id:", field("id", "[^:\\s]+")),
    opt(":", field("operation", "update|delete")),
    opt(litAny(":messageType:", ":message_type:"), field("messageType", "key|text")),
    opt(":priority:", field("priority", "low|medium|high")),
    opt(":strategy:", field("strategy", "all|latest")),
    opt(":latestN:", field("latestN", "\\d+")),
    opt(":notifier:", field("notifier", TOK)),
    opt(":ttln:", field("ttln", "\\d+")),
    meta(),
    ":",
    field("to", SCOPE),
    ":",
    field("key", "[^:@][^:@]*"),
    opt(field("from", ATSIGN)),
    opt(":", field("value", ".+")),
  ],
  "e.g notify:@colin:key@kevin",
);

export interface NotifyListParams {
  from?: string;
  to?: string;
  regex?: string;
}
export const notifyList = new Grammar<NotifyListParams>(
  "notify:list",
  [
    "notify:list",
    opt(":", field("from", "\\d{4}-\\d{2}-\\d{2}")),
    opt(":", field("to", "\\d{4}-\\d{2}-\\d{2}")),
    opt(":", field("regex", "[^:]+")),
  ],
  "e.g notify:list [regular expression]",
);

export interface NotificationIdParams {
  id: string;
}
export const notifyStatus = new Grammar<NotificationIdParams>(
  "notify:status",
  ["notify:status:", field("id", "\\S+")],
  "e.g notify:status:<notification-id>",
);
export const notifyFetch = new Grammar<NotificationIdParams>(
  "notify:fetch",
  ["notify:fetch:", field("id", "\\S+")],
  "e.g notify:fetch:<notification-id>",
);
export const notifyRemove = new Grammar<NotificationIdParams>(
  "notify:remove",
  ["notify:remove:", field("id", "[\\w-]+")],
  "e.g notify:remove:<notificationId>",
);

export interface NotifyAllParams {
  operation?: "update" | "delete";
  messageType?: "key" | "text";
  ttl?: string;
  ttb?: string;
  ttr?: string;
  ccd?: string;
  to: string;
  key: string;
  from?: string;
  value?: string;
}
export const notifyAll = new Grammar<NotifyAllParams>(
  "notify:all",
  [
    "notify:all:",
    opt(field("operation", "update|delete"), ":"),
    opt("messageType:", field("messageType", "key|text"), ":"),
    opt("ttl:", field("ttl", "\\d+"), ":"),
    opt("ttb:", field("ttb", "\\d+"), ":"),
    opt("ttr:", field("ttr", "-?\\d+"), ":"),
    opt("ccd:", field("ccd", BOOL), ":"),
    field("to", `${ATSIGN}(?:,${ATSIGN})*`),
    ":",
    field("key", "[^:@][^:@]*"),
    opt(field("from", ATSIGN)),
    opt(":", field("value", ".+")),
  ],
  "e.g notify:all:@alice,@bob:key1@colin",
);

export interface EnrollParams {
  op: "request" | "approve" | "deny" | "revoke" | "unrevoke" | "list" | "fetch" | "delete";
  force?: boolean;
  json?: string;
}
export const enroll = new Grammar<EnrollParams>(
  "enroll",
  [
    "enroll:",
    field("op", "request|approve|deny|revoke|unrevoke|list|fetch|delete"),
    flag("force", ":force"),
    opt(":", field("json", "\\{.*\\}")),
  ],
  'enroll:request:{"appName":"wavi","deviceName":"iPhone","namespaces":{"wavi":"rw"},"otp":"<otp>":"apkamPublicKey":"<public_key>"}',
);

export interface OtpParams {
  op: "get" | "put";
  code?: string;
  ttl?: string;
}
export const otp = new Grammar<OtpParams>(
  "otp",
  [
    "otp:",
    field("op", "get|put"),
    opt(":", field("code", "\\w{6,}")),
    opt(":ttl:", field("ttl", "\\d+")),
  ],
  "otp:get or otp:validate:<otp>",
);

export interface KeysParams {
  op: "put" | "get" | "delete";
  visibility?: "public" | "private" | "self";
  namespace?: string;
  appName?: string;
  deviceName?: string;
  keyType?: string;
  encryptionKeyName?: string;
  keyName?: string;
  value?: string;
}
export const keys = new Grammar<KeysParams>(
  "keys",
  [
    "keys:",
    field("op", "put|get|delete"),
    opt(":", field("visibility", "public|private|self")),
    opt(":namespace:", field("namespace", "\\w+")),
    opt(":appName:", field("appName", "\\w+")),
    opt(":deviceName:", field("deviceName", "\\w+")),
    opt(":keyType:", field("keyType", "[\\w-]+")),
    opt(":encryptionKeyName:", field("encryptionKeyName", "[\\w-]+")),
    opt(":keyName:", field("keyName", "\\S+")),
    opt(" ", field("value", ".+")),
  ],
  "e.g. keys:put:public:keyName:encryptionPublicKey:namespace:__global:keyType:rsa2048:<public_key>",
);

/** A verb: how the dispatcher recognises it (by prefix, in the reference order) and its grammars. */
export interface VerbSpec {
  verb: string;
  prefix: RegExp;
  grammars: Grammar<any>[];
}

/** Dispatch order of Part B §2.2: the first matching prefix decides the verb. */
export const VERBS: readonly VerbSpec[] = [
  { verb: "from", prefix: /^from:/i, grammars: [from] },
  { verb: "cram", prefix: /^cram:/i, grammars: [cram] },
  { verb: "pkam", prefix: /^pkam:/i, grammars: [pkam] },
  { verb: "update", prefix: /^update:(?!meta(?::|$))/i, grammars: [update] },
  { verb: "update:meta", prefix: /^update:meta/i, grammars: [updateMeta] },
  { verb: "llookup", prefix: /^llookup:/i, grammars: [llookup] },
  { verb: "plookup", prefix: /^plookup:/i, grammars: [plookup] },
  { verb: "lookup", prefix: /^lookup:/i, grammars: [lookup] },
  { verb: "scan", prefix: /^scan/i, grammars: [scan] },
  { verb: "pol", prefix: /^pol$/i, grammars: [pol] },
  { verb: "delete", prefix: /^delete:/i, grammars: [del] },
  { verb: "stats", prefix: /^stats/i, grammars: [stats] },
  { verb: "config", prefix: /^config:/i, grammars: [configBlockShow, configBlock, configSetting] },
  { verb: "monitor", prefix: /^monitor/i, grammars: [monitor] },
  {
    verb: "notify",
    prefix: /^notify:(?!(?:list|status|all|remove|fetch)(?::|$))/i,
    grammars: [notify],
  },
  { verb: "notify:list", prefix: /^notify:list/i, grammars: [notifyList] },
  { verb: "batch", prefix: /^batch:/i, grammars: [batch] },
  { verb: "notify:status", prefix: /^notify:status/i, grammars: [notifyStatus] },
  { verb: "notify:all", prefix: /^notify:all/i, grammars: [notifyAll] },
  { verb: "sync:from", prefix: /^sync:from/i, grammars: [syncFrom] },
  { verb: "info", prefix: /^info(?::brief)?$/i, grammars: [info] },
  { verb: "noop", prefix: /^noop:/i, grammars: [noop] },
  { verb: "notify:remove", prefix: /^notify:remove:/i, grammars: [notifyRemove] },
  { verb: "notify:fetch", prefix: /^notify:fetch/i, grammars: [notifyFetch] },
  { verb: "enroll", prefix: /^enroll:/i, grammars: [enroll] },
  { verb: "otp", prefix: /^otp:/i, grammars: [otp] },
  { verb: "keys", prefix: /^keys:/i, grammars: [keys] },
];

/** Lower-cases the verb part as the reference does before dispatch. */
export function normalizeCommand(line: string): string {
  const colon = line.indexOf(":");
  if (colon < 0) return line.toLowerCase();
  return line.slice(0, colon).toLowerCase().replace(/ /g, "") + line.slice(colon);
}

export function identifyVerb(line: string): VerbSpec | undefined {
  return VERBS.find((v) => v.prefix.test(line));
}

export interface ParsedCommand {
  verb: string;
  grammar: string;
  params: Record<string, unknown>;
}

/** Dispatch + grammar: undefined when no verb matches, throws AT0003 when its grammar does not. */
export function parseCommand(line: string): ParsedCommand | undefined {
  const spec = identifyVerb(line);
  if (!spec) return undefined;
  for (const g of spec.grammars) {
    const params = g.match(line);
    if (params) return { verb: spec.verb, grammar: g.name, params };
  }
  spec.grammars[spec.grammars.length - 1]!.parse(line);
  return undefined;
}
