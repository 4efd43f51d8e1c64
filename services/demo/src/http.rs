//! A small JSON-over-HTTP client for the scenario (on hyper, the same HTTP
//! stack the services serve with), and a reader of Server-Sent Events.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request failed (an error status is not a failure: see [`Reply`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built (a bad URL or header).
    #[error("cannot build the request {method} {url}: {reason}")]
    Request {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The service did not answer, or not in time.
    #[error("{method} {url} failed: {reason}")]
    Transport {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// A service's base URL (`http://127.0.0.1:8081`) and a connection pool.
#[derive(Debug, Clone)]
pub struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response: status, the `X-Request-ID` it returned, the JSON body
/// (`Null` when empty or not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The `X-Request-ID` header of the response.
    pub request_id: Option<String>,
    /// The body, as JSON.
    pub body: Value,
}

impl Reply {
    /// The body's string field `name`, or `""`.
    pub fn text(&self, name: &str) -> &str {
        self.body.get(name).and_then(Value::as_str).unwrap_or_default()
    }
}

impl Http {
    /// A client of the service at `base`.
    pub fn new(base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request `method path`, to complete and [send](Call::send).
    pub fn call(&self, method: Method, path: impl Into<String>) -> Call<'_> {
        Call {
            http: self,
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: impl Into<String>) -> Call<'_> {
        self.call(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: impl Into<String>) -> Call<'_> {
        self.call(Method::POST, path)
    }

    /// Opens `path` as a Server-Sent Events stream with `headers`; the
    /// `data` of each event named `event` is collected, parsed as JSON, in
    /// the returned [`Events`] until it is dropped.
    pub async fn events(&self, path: &str, headers: &[(&str, &str)], event: &str) -> Result<Events, HttpError> {
        let url = format!("{}{path}", self.base);
        let mut all = headers.to_vec();
        all.push(("accept", "text/event-stream"));
        let request = build(&Method::GET, &url, &all, None)?;
        let transport = |reason: String| HttpError::Transport {
            method: Method::GET,
            url: url.clone(),
            reason,
        };
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| transport("no answer".into()))?
            .map_err(|e| transport(e.to_string()))?;
        if !response.status().is_success() {
            return Err(transport(format!("answered {}", response.status())));
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let wanted = event.to_owned();
        let task = tokio::spawn(async move {
            let mut body = response.into_body();
            let mut parser = SseParser::default();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else { continue };
                for (name, data) in parser.push(&String::from_utf8_lossy(&data)) {
                    if name == wanted
                        && let Ok(value) = serde_json::from_str(&data)
                    {
                        sink.lock().unwrap_or_else(PoisonError::into_inner).push(value);
                    }
                }
            }
        });
        Ok(Events { received, task })
    }
}

/// A request being put together; see [`Http::call`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Call<'h> {
    http: &'h Http,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Call<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// What is sent: `METHOD path`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(self) -> Result<Reply, HttpError> {
        let url = format!("{}{}", self.http.base, self.path);
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = build(&self.method, &url, &headers, self.body.as_ref())?;
        let transport = |reason: String| HttpError::Transport {
            method: self.method.clone(),
            url: url.clone(),
            reason,
        };
        let exchange = async {
            let response = self
                .http
                .client
                .request(request)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = response.status();
            let request_id = response
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.to_string()))?
                .to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok(Reply {
                status,
                request_id,
                body,
            })
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {TIMEOUT:?}")))?
    }
}

fn build(
    method: &Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Request<Full<Bytes>>, HttpError> {
    let mut request = Request::builder().method(method.clone()).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Full::new(Bytes::from(body.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    request.body(body).map_err(|error| HttpError::Request {
        method: method.clone(),
        url: url.to_owned(),
        reason: error.to_string(),
    })
}

/// Events collected from a stream; the stream closes when this is dropped.
#[derive(Debug)]
pub struct Events {
    received: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Events {
    /// What was received so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until `count` events were received or `timeout` passed; returns what was received.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Splits a Server-Sent Events byte stream into `(event name, data)`.
#[derive(Debug, Default)]
struct SseParser {
    buffer: String,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds text; returns the events it completed.
    fn push(&mut self, text: &str) -> Vec<(String, String)> {
        self.buffer.push_str(text);
        let mut done = Vec::new();
        while let Some(end) = self.buffer.find('\n') {
            let line: String = self.buffer.drain(..=end).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    let name = if self.event.is_empty() {
                        "message".to_owned()
                    } else {
                        std::mem::take(&mut self.event)
                    };
                    done.push((name, self.data.join("\n")));
                }
                self.event.clear();
                self.data.clear();
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            } else if let Some(value) = line.strip_prefix("event:") {
                self.event = value.trim().to_owned();
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_across_chunks() {
        let mut parser = SseParser::default();
        assert!(parser.push("event: notification\nid: 1\ndata: {\"a\"").is_empty());
        let events = parser.push(":1}\n\n: keep-alive\n\ndata: plain\n\n");
        assert_eq!(
            events,
            [
                ("notification".to_owned(), "{\"a\":1}".to_owned()),
                ("message".to_owned(), "plain".to_owned())
            ]
        );
    }
}
