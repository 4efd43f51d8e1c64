//! Traces exported over OTLP when the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and not otherwise: HTTP
//! with protobuf bodies, sent by hyper (no gRPC, no TLS: point it at a local
//! collector or agent over `http://`).
//!
//! The exporter and the OpenTelemetry SDK read the other standard variables
//! themselves (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, …) but pass
//! over a value they cannot use in silence; [`provider`] refuses it instead, with
//! an error naming the variable. The service's name is the `service.name`
//! unless those variables give one.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::Key;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Handle;

use crate::error::Error;
use crate::settings::{SettingError, Settings};

/// The variables that turn the export on, the signal's own first.
const ENDPOINTS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];
/// The variables of the export's timeout (milliseconds), the signal's own first.
const TIMEOUTS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"];
/// The exporter's timeout when no variable sets one (the specification's).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Samplers the SDK knows (`OTEL_TRACES_SAMPLER`).
const SAMPLERS: [&str; 6] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];

/// What a standard variable must hold to be used.
#[derive(Debug, Clone, Copy)]
enum Accepts {
    /// An `http://host[:port][/path]` URL.
    HttpUrl,
    /// One of these words (any case).
    OneOf(&'static [&'static str]),
    /// A whole number (milliseconds, a count).
    Number,
    /// A ratio from 0 to 1.
    Ratio,
    /// `key=value` pairs separated by commas, each key a valid HTTP header name.
    Headers,
}

/// The standard variables read by the exporter and the SDK, and what each accepts.
const VARIABLES: [(&str, Accepts); 19] = [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", Accepts::HttpUrl),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Accepts::HttpUrl),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", Accepts::OneOf(&["http/protobuf"])),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Accepts::OneOf(&["http/protobuf"])),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", Accepts::OneOf(&["none"])),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", Accepts::OneOf(&["none"])),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", Accepts::Number),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", Accepts::Number),
    ("OTEL_EXPORTER_OTLP_HEADERS", Accepts::Headers),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", Accepts::Headers),
    ("OTEL_TRACES_SAMPLER", Accepts::OneOf(&SAMPLERS)),
    ("OTEL_TRACES_SAMPLER_ARG", Accepts::Ratio),
    ("OTEL_BSP_SCHEDULE_DELAY", Accepts::Number),
    ("OTEL_BSP_EXPORT_TIMEOUT", Accepts::Number),
    ("OTEL_BSP_MAX_QUEUE_SIZE", Accepts::Number),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", Accepts::Number),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", Accepts::Number),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", Accepts::Number),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", Accepts::Number),
];

/// The tracer provider exporting service `service`'s spans over OTLP, when
/// `env` sets an endpoint; `None` otherwise. Its requests run on `runtime`.
/// A standard variable set to a value this build cannot use is an error naming it.
pub fn provider<F: Fn(&str) -> Option<String>>(
    service: &str,
    env: &Settings<F>,
    runtime: &Handle,
) -> Result<Option<SdkTracerProvider>, Error> {
    if ENDPOINTS.iter().all(|variable| env.raw(variable).is_none()) {
        return Ok(None);
    }
    check(env)?;
    let timeout = TIMEOUTS
        .iter()
        .find_map(|variable| env.raw(variable))
        .and_then(|millis| millis.trim().parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(OnRuntime {
            client: Client::builder(TokioExecutor::new()).build_http(),
            runtime: runtime.clone(),
            timeout,
        })
        .build()
        .map_err(|error| Error::Other(format!("cannot export traces over OTLP: {error}")))?;
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(service))
            .build(),
    ))
}

/// Checks every standard variable this build reads: an error names the
/// first one set to a value it cannot use.
fn check<F: Fn(&str) -> Option<String>>(env: &Settings<F>) -> Result<(), SettingError> {
    for (variable, accepts) in VARIABLES {
        if let Some(value) = env.raw(variable)
            && let Some(reason) = refused(accepts, value.trim())
        {
            return Err(SettingError::Invalid {
                variable: variable.to_owned(),
                value,
                reason,
            });
        }
    }
    Ok(())
}

/// Why `value` is not what `accepts` takes; `None` when it is.
fn refused(accepts: Accepts, value: &str) -> Option<String> {
    match accepts {
        Accepts::HttpUrl => match value.parse::<axum::http::Uri>() {
            Err(error) => Some(format!("not a URL: {error}")),
            Ok(url) if url.scheme_str() != Some("http") || url.host().is_none() => Some(
                "expected http://host[:port][/path]: this build exports over plain HTTP (no TLS: use a local collector)"
                    .into(),
            ),
            Ok(_) => None,
        },
        Accepts::OneOf(words) => (!words.iter().any(|word| word.eq_ignore_ascii_case(value)))
            .then(|| format!("this build takes {}", words.join(", "))),
        Accepts::Number => value.parse::<u64>().err().map(|error| format!("not a whole number: {error}")),
        Accepts::Ratio => match value.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => None,
            _ => Some("not a ratio from 0 to 1".into()),
        },
        Accepts::Headers => value.split(',').map(str::trim).filter(|pair| !pair.is_empty()).find_map(|pair| {
            match pair.split_once('=') {
                Some((name, _)) if axum::http::HeaderName::from_bytes(name.trim().as_bytes()).is_ok() => None,
                _ => Some(format!("{pair:?} is not `header-name=value`")),
            }
        }),
    }
}

/// What the SDK detects (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, …),
/// named `service` when that gives no name.
fn resource(service: &str) -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&Key::new("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder().with_service_name(service.to_owned()).build()
    }
}

/// The exporter's HTTP client: hyper, on the service's Tokio runtime (the
/// SDK's batch processor exports from a thread of its own, outside it).
#[derive(Debug, Clone)]
struct OnRuntime {
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: Handle,
    timeout: Duration,
}

#[async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (client, timeout) = (self.client.clone(), self.timeout);
        let sending = async move {
            let (parts, body) = client.request(request.map(Full::new)).await?.into_parts();
            Ok::<_, HttpError>(Response::from_parts(parts, body.collect().await?.to_bytes()))
        };
        // The timer, too, is the runtime's: made inside the task.
        self.runtime
            .spawn(async move { tokio::time::timeout(timeout, sending).await })
            .await??
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn checked(vars: &[(&str, &str)]) -> Result<(), SettingError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        check(&Settings::new(move |name: &str| vars.get(name).cloned()))
    }

    #[test]
    fn usable_values_pass() {
        let good = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://10.0.0.1:4318/v1/traces"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/protobuf"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret, x-tenant=a%3Db"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ];
        assert_eq!(checked(&good), Ok(()));
        assert_eq!(checked(&[]), Ok(()));
    }

    #[test]
    fn an_unusable_value_is_refused_naming_its_variable() {
        let bad = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad header=x"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ];
        for (name, value) in bad {
            match checked(&[(name, value)]) {
                Err(SettingError::Invalid {
                    variable, value: found, ..
                }) => {
                    assert_eq!((variable.as_str(), found.as_str()), (name, value));
                }
                other => panic!("{name}={value:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let env = Settings::new(|name: &str| (name == "OTEL_TRACES_SAMPLER").then(|| "nonsense".to_owned()));
        let provider = provider("svc", &env, runtime.handle()).expect("not even checked");
        assert!(provider.is_none());
    }
}
