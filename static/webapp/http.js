// Requests to our own server: JSON in and out, with the CSRF token Django wants.

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function answer(resp) {
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || `The server answered ${resp.status}.`);
  return data;
}

/** POST `body` (JSON, or FormData as is); resolves to the JSON answer, throws with the server's message. */
export async function postJSON(url, body) {
  const form = body instanceof FormData;
  const headers = { "X-CSRFToken": csrfToken(), "Accept": "application/json" };
  if (!form) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, {
    method: "POST", headers, credentials: "same-origin",
    body: form ? body : body === undefined ? "" : JSON.stringify(body),
  });
  return answer(resp);
}

/** GET a JSON answer; throws with the server's message. */
export async function getJSON(url) {
  return answer(await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }));
}
