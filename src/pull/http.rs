//! HTTP for the pulls: one GET with the retry policy, secrets that never print, redaction.
//!
//! Retry policy: 429 waits `Retry-After` (seconds or an HTTP date) when the server sends it,
//! else the backoff; 5xx, timeouts and dropped connections retry with exponential backoff and
//! full jitter, bounded in attempts and in delay. 401/403 stop at once: a refused key does not
//! get better by asking again.

use super::PullError;
use std::path::Path;
use std::time::Duration;

/// A key or password. `Debug` and `Display` never show it; `expose` is for the one header or
/// connection string that needs it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// From the file at `file` (its first line, trimmed) when given, else from the environment
    /// variable `var`. The message of a failure names where it looked, never a value.
    pub fn load(var: &str, file: Option<&Path>) -> Result<Secret, PullError> {
        let value = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    PullError::Usage(format!("{}: cannot read the key file: {e}", path.display()))
                })?;
                text.lines().next().unwrap_or("").trim().to_string()
            }
            None => std::env::var(var).unwrap_or_default().trim().to_string(),
        };
        if value.is_empty() {
            return Err(PullError::Usage(match file {
                Some(path) => format!("{}: the key file is empty", path.display()),
                None => format!(
                    "{var} is not set: export it, or give the key in a file with --key-file"
                ),
            }));
        }
        Ok(Secret(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Removes `user:password@` from a URL (a base URL or a Postgres URL may carry them).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://[redacted]@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Replaces every occurrence of each secret in `text` (a server's error body may echo a key).
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.0.is_empty() {
            out = out.replace(&s.0, "[redacted]");
        }
    }
    out
}

/// Retry and timeout settings.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// First backoff; each retry doubles it.
    pub base: Duration,
    /// No wait (backoff or `Retry-After`) is longer.
    pub max_delay: Duration,
    /// Per request, connect to last byte.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in [0, min(max, base × 2^retry)].
    fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

/// How to authenticate a request.
pub enum Auth<'a> {
    /// `Authorization: Bearer KEY`.
    Bearer(&'a Secret),
    /// A header carrying the key as is (Anthropic's `x-api-key`).
    Header(&'static str, &'a Secret),
    /// HTTP Basic (Langfuse: public key as user, secret key as password).
    Basic(&'a str, &'a Secret),
}

impl Auth<'_> {
    fn secrets(&self) -> Vec<&Secret> {
        match self {
            Auth::Bearer(s) | Auth::Header(_, s) | Auth::Basic(_, s) => vec![*s],
        }
    }
}

/// A page as received.
pub struct Response {
    pub body: Vec<u8>,
    /// Attempts it took (1 = no retry).
    pub attempts: u32,
}

/// GETs `url` with `query` (or POSTs `body` as JSON when there is one: LangSmith's run query
/// takes its filter and cursor in the body), retrying as the policy says. `shown` is how the request is named in
/// messages (path and query, no host credentials); `key_name` names the key for a 401.
#[allow(clippy::too_many_arguments)]
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    query: &[(String, String)],
    body: Option<&[u8]>,
    headers: &[(&'static str, &'static str)],
    auth: &Auth<'_>,
    policy: &RetryPolicy,
    shown: &str,
    key_name: &str,
) -> Result<Response, PullError> {
    let secrets = auth.secrets();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut req = match body {
            None => client.get(url).query(query),
            Some(b) => client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec()),
        }
        .timeout(policy.timeout);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match auth {
            Auth::Bearer(s) => req.bearer_auth(s.expose()),
            Auth::Header(name, s) => req.header(*name, s.expose()),
            Auth::Basic(user, s) => req.basic_auth(user, Some(s.expose())),
        };
        let last = attempt >= policy.attempts;
        let outcome = req.send().await;
        let wait = match outcome {
            Err(e) => {
                // reqwest's message names the URL: ours is shown instead, without credentials.
                let what = e.without_url();
                let transient = what.is_timeout() || what.is_connect() || what.is_request();
                if !transient || last {
                    return Err(PullError::Http(scrub(
                        &format!("{shown}: {what} (after {attempt} attempts)"),
                        &secrets,
                    )));
                }
                policy.backoff(attempt - 1)
            }
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                if status.is_success() {
                    match resp.bytes().await {
                        Ok(b) => {
                            return Ok(Response {
                                body: b.to_vec(),
                                attempts: attempt,
                            });
                        }
                        Err(e) if !last => {
                            let _ = e;
                            policy.backoff(attempt - 1)
                        }
                        Err(e) => {
                            return Err(PullError::Http(scrub(
                                &format!("{shown}: the body was cut off: {}", e.without_url()),
                                &secrets,
                            )));
                        }
                    }
                } else {
                    let code = status.as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    let excerpt: String = body.chars().take(300).collect();
                    let excerpt = scrub(excerpt.trim(), &secrets);
                    if code == 401 || code == 403 {
                        return Err(PullError::Unauthorized(format!(
                            "{shown}: HTTP {status}: the key in {key_name} was refused (expired, revoked, or without the scope this needs; see README, pull): {excerpt}"
                        )));
                    }
                    let retryable = code == 429 || status.is_server_error() || code == 408;
                    if !retryable || last {
                        return Err(PullError::Http(format!(
                            "{shown}: HTTP {status} (after {attempt} attempts): {excerpt}"
                        )));
                    }
                    match retry_after {
                        Some(d) => d.min(policy.max_delay),
                        None => policy.backoff(attempt - 1),
                    }
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_redacted() {
        assert_eq!(
            redact_url("postgres://dify:s3cret@db.internal:5432/dify?sslmode=require"),
            "postgres://[redacted]@db.internal:5432/dify?sslmode=require"
        );
        assert_eq!(
            redact_url("https://cloud.langfuse.com"),
            "https://cloud.langfuse.com"
        );
        // An `@` after the host (in a path or query) is not userinfo.
        assert_eq!(
            redact_url("https://h.example/a@b?x=@"),
            "https://h.example/a@b?x=@"
        );
    }

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("sk-admin-abc".into());
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(
            scrub("Incorrect API key provided: sk-admin-abc.", &[&s]),
            "Incorrect API key provided: [redacted]."
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            timeout: Duration::from_secs(1),
        };
        for retry in 0..10 {
            assert!(p.backoff(retry) <= Duration::from_millis(250));
        }
        assert!(p.backoff(0) <= Duration::from_millis(100));
    }
}
