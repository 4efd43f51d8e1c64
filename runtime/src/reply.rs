//! The reply to a command, as an entry of the caller's reply stream: an
//! envelope answering the request, plus a status and, for a failure, the
//! handler's error (see [`command::field`](crate::command::field)). The
//! command server writes it; the caller's reply reader reads it.

use chrono::{SubsecRound, Utc};
use uuid::Uuid;

use crate::command::field;
use crate::envelope::{self, Envelope};
use crate::handler::HandlerError;
use crate::stream::Fields;
use crate::telemetry::trace;

/// What a reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The handler's response, JSON.
    Response(String),
    /// The handler's error, as text.
    Failed(String),
    /// The reply names its request but cannot be read otherwise.
    Malformed(String),
}

/// A reply read from a reply stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The id of the request it answers.
    pub request_id: Uuid,
    /// What it says.
    pub answer: Answer,
    /// The W3C `traceparent` it carries: the server's span (feature `otel`)
    /// or the request's.
    pub traceparent: Option<String>,
}

/// The stream entry fields of the reply to `request`, from service
/// `source`: the handler's response JSON, or its error. It carries the
/// current span's trace context (the server's, feature `otel`), else the
/// request's.
pub(crate) fn fields(
    request: &Envelope,
    source: &str,
    result: Result<&str, &HandlerError>,
) -> Vec<(&'static str, String)> {
    let (data, status) = match result {
        Ok(data) => (data.to_owned(), field::OK),
        Err(_) => ("null".to_owned(), field::FAILED),
    };
    let request_id = request.id.to_string();
    let carried = (request.traceparent.clone(), request.tracestate.clone());
    let (traceparent, tracestate) = trace::span_or(&tracing::Span::current(), carried);
    let reply = Envelope {
        id: Uuid::now_v7(),
        event_type: request.event_type.clone(),
        version: request.version,
        source: source.to_owned(),
        time: Utc::now().trunc_subsecs(6),
        subject: request_id.clone(),
        correlation_id: request.correlation_id.clone(),
        causation_id: Some(request_id),
        traceparent,
        tracestate,
        data,
    };
    let mut fields = reply.to_fields();
    fields.push((field::STATUS, status.to_owned()));
    if let Err(error) = result {
        fields.push((field::ERROR, error.to_string()));
    }
    fields
}

impl Reply {
    /// Reads a reply from its entry fields. Fails only when the entry does
    /// not say which request it answers (nobody can be told); any other
    /// defect is an [`Answer::Malformed`] for the waiting caller.
    pub(crate) fn from_fields(fields: &Fields) -> Result<Reply, String> {
        let request = fields
            .get(envelope::field::CAUSATION_ID)
            .ok_or("a reply without `causationid`: it answers no known request")?;
        let request_id = Uuid::parse_str(request)
            .map_err(|error| format!("a reply whose `causationid` is no id ({request:?}): {error}"))?;
        let answer = match Envelope::from_fields(|name| fields.get(name)) {
            Err(error) => Answer::Malformed(format!("the reply is no envelope: {error}")),
            Ok(reply) => match fields.get(field::STATUS) {
                Some(field::OK) => Answer::Response(reply.data),
                Some(field::FAILED) => Answer::Failed(
                    fields
                        .get(field::ERROR)
                        .unwrap_or("(the server gave no reason)")
                        .to_owned(),
                ),
                Some(other) => Answer::Malformed(format!("the reply has an unknown `status` {other:?}")),
                None => Answer::Malformed("the reply has no `status`".to_owned()),
            },
        };
        Ok(Reply {
            request_id,
            answer,
            traceparent: fields.get(envelope::field::TRACEPARENT).map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            event_type: "company.get".into(),
            version: 2,
            source: "ui".into(),
            time: Utc::now().trunc_subsecs(6),
            subject: "s".into(),
            correlation_id: "req-1".into(),
            causation_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: Some("congo=t61rcWkgMzE".into()),
            data: "{}".into(),
        }
    }

    fn read(fields: Vec<(&'static str, String)>) -> Result<Reply, String> {
        let flat: Vec<redis::Value> = fields
            .into_iter()
            .flat_map(|(k, v)| [redis::Value::BulkString(k.into()), redis::Value::BulkString(v.into())])
            .collect();
        let entry = redis::Value::Array(vec![redis::Value::Array(vec![
            redis::Value::BulkString(b"1-0".to_vec()),
            redis::Value::Array(flat),
        ])]);
        let entries = crate::stream::entry_list(entry).map_err(|e| e.to_string())?;
        let fields = entries.into_iter().next().and_then(|e| e.fields).ok_or("no fields")?;
        Reply::from_fields(&fields)
    }

    #[test]
    fn a_response_round_trips_and_answers_its_request() {
        let request = request();
        let fields = fields(&request, "company-partner", Ok(r#"{"company":null}"#));
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("type"), Some("company.get"));
        assert_eq!(get("version"), Some("2"));
        assert_eq!(get("source"), Some("company-partner"));
        assert_eq!(get("correlationid"), Some("req-1"));
        assert_eq!(get("traceparent"), request.traceparent.as_deref());
        assert_eq!(get("tracestate"), request.tracestate.as_deref());
        assert_eq!(get("subject"), Some(request.id.to_string().as_str()));
        assert_eq!(get("status"), Some("ok"));
        assert_eq!(get("error"), None);
        let reply = read(fields).expect("reads");
        assert_eq!(reply.request_id, request.id);
        assert_eq!(reply.traceparent, request.traceparent);
        assert_eq!(reply.answer, Answer::Response(r#"{"company":null}"#.into()));
    }

    #[test]
    fn an_error_round_trips_with_its_reason() {
        let request = request();
        let error = HandlerError::permanent("no such company");
        let reply = read(fields(&request, "company-partner", Err(&error))).expect("reads");
        assert_eq!(reply.answer, Answer::Failed("permanent: no such company".into()));
    }

    #[test]
    fn defects_are_malformed_answers_or_unroutable() {
        let request = request();
        let mut fields = fields(&request, "x", Ok("{}"));
        fields.retain(|(k, _)| *k != "status");
        assert!(matches!(
            read(fields.clone()).expect("routable").answer,
            Answer::Malformed(_)
        ));
        fields.retain(|(k, _)| *k != "time");
        fields.push(("status", "ok".into()));
        assert!(matches!(
            read(fields.clone()).expect("routable").answer,
            Answer::Malformed(_)
        ));
        fields.retain(|(k, _)| *k != "causationid");
        assert!(read(fields.clone()).is_err());
        fields.push(("causationid", "nope".into()));
        assert!(read(fields).is_err());
    }
}
