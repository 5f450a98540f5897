// The API token: read from the page URL once (?token=...), kept in sessionStorage, and removed
// from the address bar so it does not end up in bookmarks, history or screenshots.

const KEY = "dne.apiToken";

export function takeTokenFromUrl(win = window) {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    win.sessionStorage.setItem(KEY, fromUrl);
    url.searchParams.delete("token");
    win.history.replaceState(win.history.state, "", url.pathname + url.search + url.hash);
  }
  return win.sessionStorage.getItem(KEY) || "";
}
