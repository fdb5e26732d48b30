//! The credential: taken from the sign-in link's fragment (#token=tn_…) into
//! session storage, then removed from the address bar and history so it is not
//! bookmarked, shared with a permalink or sent in a Referer.

const KEY = "tasknet.token";

/** Moves a token from the fragment into session storage; returns the token in use, if any. */
export function adoptTokenFromFragment(loc: Location = window.location, storage: Storage = sessionStorage): string | null {
  // The link is /#/signin?token=tn_… (docs/dashboard-contract.md); #token=tn_… works too.
  const raw = loc.hash.replace(/^#/, "");
  const fragment = new URLSearchParams(raw.includes("?") ? raw.slice(raw.indexOf("?") + 1) : raw);
  const token = fragment.get("token");
  if (token) {
    storage.setItem(KEY, token);
    history.replaceState(history.state, "", loc.pathname + loc.search);
  }
  return storage.getItem(KEY);
}

export function currentToken(storage: Storage = sessionStorage): string | null {
  return storage.getItem(KEY);
}

export function signOut(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
