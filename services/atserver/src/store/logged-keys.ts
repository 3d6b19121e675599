// Which keys go into the commit log (atprotocol.md §7): server-private and client-local keys
// are never synced; `public:_x` (hidden public) is not either, but `public:__x` is.
export function isLoggedKey(key: string): boolean {
  if (key.startsWith("private:") || key.startsWith("privatekey:") || key.startsWith("local:")) {
    return false;
  }
  if (key.startsWith("public:_")) return key.startsWith("public:__");
  return true;
}
