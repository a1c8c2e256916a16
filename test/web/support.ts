// A minimal browser stand-in for the dashboard route tests: fetch with a cookie jar, no redirects followed,
// form posts as application/x-www-form-urlencoded, and the CSRF token read from the page's hidden field.
export interface WebAnswer {
  status: number;
  location: string | null;
  text: string;
  headers: Headers;
}

export class WebClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  #remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = (pair ?? "").indexOf("=");
      if (eq < 0) continue;
      const name = (pair as string).slice(0, eq).trim();
      const value = (pair as string).slice(eq + 1).trim();
      if (value === "" || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(
    method: string,
    path: string,
    form?: Record<string, string>,
    extraHeaders: Record<string, string> = {},
  ): Promise<WebAnswer> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(20_000),
    });
    this.#remember(response.headers);
    return {
      status: response.status,
      location: response.headers.get("location"),
      text: await response.text(),
      headers: response.headers,
    };
  }

  get(path: string): Promise<WebAnswer> {
    return this.request("GET", path);
  }

  post(path: string, form: Record<string, string>): Promise<WebAnswer> {
    return this.request("POST", path, form);
  }

  /** GETs `path` and returns the first `_csrf` hidden field's value on it. */
  async csrf(path = "/"): Promise<string> {
    const page = await this.get(path);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!match?.[1]) throw new Error(`no CSRF field on ${path} (status ${page.status})`);
    return match[1];
  }

  /** Signs in through the form; returns the answer to the POST. */
  async signIn(credentials: { username?: string; password?: string; token?: string }): Promise<WebAnswer> {
    const csrf = await this.csrf("/login");
    return this.post("/login", {
      _csrf: csrf,
      next: "/",
      username: credentials.username ?? "",
      password: credentials.password ?? "",
      token: credentials.token ?? "",
    });
  }
}
