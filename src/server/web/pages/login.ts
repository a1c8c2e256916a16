// The sign-in page: username + password, or an API token (for users without a password).
import { type Html, html } from "../html.js";

export function loginPage(options: { csrf: string; next: string; username?: string; error?: string }): Html {
  return html`<h1>Sign in</h1>
${options.error && html`<p class="notice bad" role="alert" data-testid="login-error">${options.error}</p>`}
<form method="post" action="/login" class="card">
<input type="hidden" name="_csrf" value="${options.csrf}">
<input type="hidden" name="next" value="${options.next}">
<label for="username">Username</label>
<input id="username" name="username" value="${options.username ?? ""}" autocomplete="username" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<details><summary>Sign in with an API token instead</summary>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off">
<p class="muted small">For example the admin token <code>prewarm server --dev</code> prints.</p>
</details>
<p><button type="submit">Sign in</button></p>
</form>`;
}

/** Only same-site paths: "/x" but never "//host" or "/\\host" (no open redirect). */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\"))
    return "/";
  return next;
}
