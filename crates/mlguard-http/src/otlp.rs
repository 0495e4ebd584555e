//! The trace ids an OTLP/HTTP export (`POST /v1/traces`) writes into, read exactly
//! as MLflow reads them: the body is an `ExportTraceServiceRequest` (protobuf, or the
//! OTLP JSON mapping), optionally `gzip` or `deflate` compressed, and each span goes
//! to the trace named by its `mlflow.traceRequestId` attribute, or else to
//! `tr-<hex of its OpenTelemetry trace id>`.

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::ApiError;

/// The span attribute MLflow takes a span's trace id from, when present.
pub const TRACE_ID_ATTRIBUTE: &str = "mlflow.traceRequestId";

/// How the export body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpFormat {
    Protobuf,
    Json,
}

impl OtlpFormat {
    /// `application/x-protobuf` or `application/json` (parameters ignored).
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let essence = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/x-protobuf") => Ok(Self::Protobuf),
            Some("application/json") => Ok(Self::Json),
            _ => Err(ApiError::bad_request(
                "Invalid Content-Type. Expected: application/x-protobuf or application/json",
            )),
        }
    }
}

fn invalid_body() -> ApiError {
    ApiError::bad_request("Invalid OpenTelemetry ExportTraceServiceRequest.")
}

/// Reads `reader` to its end, refusing more than `limit` bytes.
fn read_bounded(reader: impl Read, limit: usize, encoding: &str) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::bad_request(format!("Failed to decompress {encoding} payload")))?;
    if out.len() > limit {
        return Err(ApiError::payload_too_large());
    }
    Ok(out)
}

/// The body with its `Content-Encoding` undone, at most `limit` bytes decoded.
/// `gzip` reads every member (as Python's `gzip.decompress` does); `deflate` is
/// zlib-wrapped or raw.
pub fn decode_content(
    body: &[u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let encoding = content_encoding
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" => read_bounded(flate2::read::MultiGzDecoder::new(body), limit, "gzip"),
        "deflate" => read_bounded(flate2::read::ZlibDecoder::new(body), limit, "deflate")
            .or_else(|_| read_bounded(flate2::read::DeflateDecoder::new(body), limit, "deflate")),
        _ => Err(ApiError::bad_request(format!(
            "Unsupported Content-Encoding: {encoding}"
        ))),
    }
}

/// OTLP JSON names fields in lowerCamelCase only. A protobuf JSON parser also takes
/// the snake_case names, so a body spelling a field both ways could be read as two
/// different requests: no object key may hold an underscore.
fn json_keys_are_camel_case(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .all(|(key, value)| !key.contains('_') && json_keys_are_camel_case(value)),
        serde_json::Value::Array(items) => items.iter().all(json_keys_are_camel_case),
        _ => true,
    }
}

fn parse(format: OtlpFormat, decoded: &[u8]) -> Result<ExportTraceServiceRequest, ApiError> {
    match format {
        OtlpFormat::Protobuf => {
            ExportTraceServiceRequest::decode(decoded).map_err(|_| invalid_body())
        }
        OtlpFormat::Json => {
            let value: serde_json::Value =
                serde_json::from_slice(decoded).map_err(|_| invalid_body())?;
            if !json_keys_are_camel_case(&value) {
                return Err(ApiError::bad_request(
                    "OTLP JSON field names must be lowerCamelCase.",
                ));
            }
            serde_json::from_value(value).map_err(|_| invalid_body())
        }
    }
}

/// The trace id MLflow files this span under.
fn trace_id_of(span: &Span) -> Result<String, ApiError> {
    let mut named = span
        .attributes
        .iter()
        .filter(|attribute| attribute.key == TRACE_ID_ATTRIBUTE)
        .map(|attribute| attribute.value.as_ref().and_then(|v| v.value.as_ref()));
    if let Some(first) = named.next() {
        let Some(any_value::Value::StringValue(id)) = first else {
            return Err(ApiError::invalid_parameter(format!(
                "The span attribute '{TRACE_ID_ATTRIBUTE}' must be a string."
            )));
        };
        if id.is_empty() || named.any(|other| other != first) {
            return Err(ApiError::invalid_parameter(format!(
                "The span attribute '{TRACE_ID_ATTRIBUTE}' must name one trace."
            )));
        }
        return Ok(id.clone());
    }
    if span.trace_id.is_empty() {
        return Err(ApiError::invalid_parameter("A span has no trace_id."));
    }
    // MLflow reads the bytes as a big-endian integer and prints it in at least 32
    // hex digits: leading zero bytes beyond those fall away.
    let significant: &[u8] = match span.trace_id.iter().position(|b| *b != 0) {
        Some(first) => &span.trace_id[first..],
        None => &[],
    };
    let hex: String = significant.iter().map(|b| format!("{b:02x}")).collect();
    let hex = hex.trim_start_matches('0');
    Ok(format!("tr-{hex:0>32}"))
}

/// Every distinct trace id the export writes spans into, in first-seen order.
/// `limit` bounds the decompressed body.
pub fn export_trace_ids(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<Vec<String>, ApiError> {
    let format = OtlpFormat::from_content_type(content_type)?;
    let decoded = decode_content(body, content_encoding, limit)?;
    let request = parse(format, &decoded)?;
    let mut ids: Vec<String> = Vec::new();
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans);
    for span in spans {
        let id = trace_id_of(span)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    use super::*;

    fn span(trace_id: &[u8], attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: trace_id.to_vec(),
            span_id: vec![1; 8],
            name: "s".to_owned(),
            attributes,
            ..Span::default()
        }
    }

    fn export(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn string_attribute(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    const PROTOBUF: Option<&str> = Some("application/x-protobuf");

    #[test]
    fn trace_ids_are_mlflows_hex_names() {
        let mut id = [0u8; 16];
        id[15] = 0xab;
        let body = export(vec![span(&id, vec![]), span(&[0xff; 16], vec![])]).encode_to_vec();
        assert_eq!(
            export_trace_ids(PROTOBUF, None, &body, 1 << 20).expect("decodes"),
            vec![
                format!("tr-{}ab", "0".repeat(30)),
                format!("tr-{}", "f".repeat(32))
            ]
        );
        // A short id is a small integer; a long one keeps all its digits.
        let body =
            export(vec![span(&[0x01, 0x02], vec![]), span(&[0x11; 17], vec![])]).encode_to_vec();
        assert_eq!(
            export_trace_ids(PROTOBUF, None, &body, 1 << 20).expect("decodes"),
            vec![
                format!("tr-{}0102", "0".repeat(28)),
                format!("tr-{}", "11".repeat(17))
            ]
        );
    }

    #[test]
    fn the_request_id_attribute_wins_over_the_otel_id() {
        let body = export(vec![span(
            &[7; 16],
            vec![string_attribute(TRACE_ID_ATTRIBUTE, "tr-victim")],
        )])
        .encode_to_vec();
        assert_eq!(
            export_trace_ids(PROTOBUF, None, &body, 1 << 20).expect("decodes"),
            vec!["tr-victim".to_owned()]
        );
    }

    #[test]
    fn ambiguous_or_odd_request_ids_are_refused() {
        let conflicting = export(vec![span(
            &[7; 16],
            vec![
                string_attribute(TRACE_ID_ATTRIBUTE, "tr-a"),
                string_attribute(TRACE_ID_ATTRIBUTE, "tr-b"),
            ],
        )]);
        let not_a_string = export(vec![span(
            &[7; 16],
            vec![KeyValue {
                key: TRACE_ID_ATTRIBUTE.to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(5)),
                }),
                ..KeyValue::default()
            }],
        )]);
        let empty = export(vec![span(
            &[7; 16],
            vec![string_attribute(TRACE_ID_ATTRIBUTE, "")],
        )]);
        let no_trace_id = export(vec![span(&[], vec![])]);
        for request in [conflicting, not_a_string, empty, no_trace_id] {
            assert!(export_trace_ids(PROTOBUF, None, &request.encode_to_vec(), 1 << 20).is_err());
        }
    }

    #[test]
    fn every_gzip_member_and_both_deflate_forms_are_read() {
        let first = export(vec![span(&[1; 16], vec![])]).encode_to_vec();
        let second = export(vec![span(&[2; 16], vec![])]).encode_to_vec();
        let gzip = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(bytes).expect("write");
            encoder.finish().expect("finish")
        };
        // Two gzip members decompress to the concatenation: two protobuf messages
        // merge into one, whose spans are both.
        let mut two_members = gzip(&first);
        two_members.extend(gzip(&second));
        let ids = export_trace_ids(PROTOBUF, Some("GZIP"), &two_members, 1 << 20).expect("gzip");
        assert_eq!(ids.len(), 2);

        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&first).expect("write");
        let zlib = zlib.finish().expect("finish");
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&first).expect("write");
        let raw = raw.finish().expect("finish");
        for body in [zlib, raw] {
            assert_eq!(
                export_trace_ids(PROTOBUF, Some("deflate"), &body, 1 << 20).expect("deflate"),
                vec![format!("tr-{}", "01".repeat(16))]
            );
        }
        assert!(export_trace_ids(PROTOBUF, Some("br"), &first, 1 << 20).is_err());
        assert!(export_trace_ids(PROTOBUF, Some("gzip"), &first, 1 << 20).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 1 << 20]).expect("write");
        let bomb = encoder.finish().expect("finish");
        let error = export_trace_ids(PROTOBUF, Some("gzip"), &bomb, 64 * 1024).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn json_exports_are_read_in_lower_camel_case_only() {
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"},
            {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"b",
             "attributes":[{"key":"mlflow.traceRequestId","value":{"stringValue":"tr-other"}}]}
        ]}]}]}"#;
        assert_eq!(
            export_trace_ids(Some("application/json"), None, json, 1 << 20).expect("json"),
            vec![
                "tr-5b8efff798038103d269b633813fc60c".to_owned(),
                "tr-other".to_owned()
            ]
        );
        let snake = br#"{"resource_spans":[{"scope_spans":[{"spans":[
            {"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174"}]}]}]}"#;
        assert!(export_trace_ids(Some("application/json"), None, snake, 1 << 20).is_err());
        assert!(export_trace_ids(Some("text/plain"), None, json, 1 << 20).is_err());
        assert!(export_trace_ids(PROTOBUF, None, b"\xff\xff\xff", 1 << 20).is_err());
    }
}
