// Who is signed in, and signing in and out. A password sign-in uses the session cookie
// (HttpOnly: the app never sees it) and the CSRF token the server hands back; an API key
// sign-in keeps the key for this tab only.
import { reactive } from "./vendor.js";
import * as api from "./api.js";
import { currentLocation, navigate } from "./router.js";

const RETURN_KEY = "convoflow.return_to";

export const session = reactive({
  checked: false,
  user: null,
  viaKey: false,
  expired: false,
  passwordSignIn: true,
});

function adopt(body) {
  const user = body.user || body;
  api.setCsrfToken(body.csrf_token || user.csrf_token);
  const name = user.name || user.username;
  // A server without sign-in has no admin flag: its owner of the built-ins is "admin".
  session.user = { id: user.id, name, isAdmin: Boolean(user.is_admin ?? name === "admin") };
  session.expired = false;
}

/** Find out whether a session (cookie or stored key) is still valid. */
export async function restore() {
  try {
    if (api.usingApiKey()) {
      adopt(await api.get("/api/me", { quiet401: true }));
      session.viaKey = true;
    } else {
      adopt(await api.get("/api/auth/me", { quiet401: true }));
    }
  } catch (error) {
    if (api.missingEndpoint(error)) session.passwordSignIn = false;
    session.user = null;
  }
  session.checked = true;
}

export async function signIn(username, password) {
  adopt(await api.post("/api/auth/login", { username, password }, { quiet401: true }));
  session.viaKey = false;
  returnAfterSignIn();
}

export async function signInWithKey(key) {
  api.setApiKey(key);
  try {
    adopt(await api.get("/api/me", { quiet401: true }));
  } catch (error) {
    api.setApiKey(null);
    throw error;
  }
  session.viaKey = true;
  returnAfterSignIn();
}

export async function signOut() {
  if (!session.viaKey) {
    try { await api.post("/api/auth/logout", {}, { quiet401: true }); } catch { /* gone already */ }
  }
  api.setApiKey(null);
  api.setCsrfToken(null);
  session.user = null;
  session.viaKey = false;
  navigate("signin");
}

function returnAfterSignIn() {
  const back = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  if (back && !back.startsWith("#/signin")) window.location.hash = back;
  else navigate("templates");
}

// A lost session anywhere: remember where the user was (unsaved flows keep themselves in
// local storage) and ask them to sign in again.
api.whenUnauthenticated(() => {
  if (!session.user) return;
  sessionStorage.setItem(RETURN_KEY, currentLocation());
  session.user = null;
  session.expired = true;
  api.setApiKey(null);
  navigate("signin");
});
