// REST calls to the gateway. Every error body is {"error": {code, message, details}}.

export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
  }

  async get(path, { auth = false, timeoutMs = 10000 } = {}) {
    const headers = { Accept: "application/json" };
    if (auth && this.token) headers.Authorization = `Bearer ${this.token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response;
    try {
      response = await fetch(this.base + path, { headers, signal: controller.signal });
    } catch (err) {
      const reason = err.name === "AbortError" ? `no answer within ${timeoutMs / 1000} s` : err.message;
      throw new ApiError(0, "NETWORK", `The gateway cannot be reached (${reason}).`);
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = (body && body.error) || {};
      const retryAfter = Number(response.headers.get("Retry-After")) || null;
      throw new ApiError(
        response.status,
        error.code || `HTTP_${response.status}`,
        error.message || `The gateway answered HTTP ${response.status}.`,
        error.details || {},
        retryAfter,
      );
    }
    return body;
  }

  markets() {
    return this.get("/api/drift/markets");
  }

  funding(symbol, hours = 168) {
    return this.get(`/api/drift/markets/${encodeURIComponent(symbol)}/funding?hours=${hours}`);
  }

  config() {
    return this.get("/api/config");
  }

  status() {
    return this.get("/api/status", { auth: true });
  }
}
