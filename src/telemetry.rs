//! Logs and traces. Logs go to stderr (`RUST_LOG`, default `info`); traces go
//! through `tracing-opentelemetry` to an OTLP exporter when the standard
//! OpenTelemetry environment asks for one (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SERVICE_NAME`,
//! `OTEL_TRACES_SAMPLER`, ... are read by the SDK). Without an exporter spans
//! still get W3C trace ids, so a caller's `traceparent` shows up in our logs.
//!
//! [`operation_span!`](crate::operation_span) is the one place a request span
//! is made, for both transports: named by the operation, and parented on the
//! caller's trace by [`continue_trace`].

use std::io::IsTerminal;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing::field::{Field, Visit};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::field::{RecordFields, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, FormatFields, Writer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The installed tracer; flushes spans on [`Telemetry::shutdown`].
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

fn env_is_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.trim().is_empty())
}

/// Whether the environment asks for an OTLP trace exporter.
fn otlp_requested() -> bool {
    let disabled = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|value| value.trim() == "none");
    !disabled
        && (env_is_set("OTEL_EXPORTER_OTLP_ENDPOINT")
            || env_is_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider that exports over OTLP (called only when the
/// environment asks for an exporter).
fn exporting_tracer_provider() -> Result<SdkTracerProvider, String> {
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !env_is_set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("statusgate");
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|error| format!("cannot build the OTLP exporter: {error}"))?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_span_processor(processor)
        .build())
}

/// Installs logging and tracing. Call once, inside the Tokio runtime. A
/// second call (tests start many servers in one process) keeps the first
/// subscriber and returns a handle that flushes nothing. Without an exporter
/// no OpenTelemetry layer is installed at all: spans then cost only what the
/// log lines need, and a caller's trace id still reaches the logs.
pub fn init() -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .fmt_fields(LogFields)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter());
    let (tracer_provider, exporter_error) = if otlp_requested() {
        match exporting_tracer_provider() {
            Ok(provider) => (Some(provider), None),
            Err(error) => (None, Some(error)),
        }
    } else {
        (None, None)
    };
    let traces = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("statusgate"))
            .with_filter(filter())
    });
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if let Some(error) = exporter_error {
        tracing::error!(%error, "traces will not be exported");
    }
    if !installed {
        return Telemetry {
            tracer_provider: None,
        };
    }
    if tracer_provider.is_some() {
        tracing::info!("exporting traces over OTLP");
    }
    Telemetry { tracer_provider }
}

/// Span attribute prefixes that only OpenTelemetry reads: constant per
/// operation (`otel.kind`, `rpc.system`, `db.system`), the span's own name
/// again (`rpc.method`), or an outcome the line already carries
/// (`rpc.grpc.status_code`).
const TRACE_ONLY_FIELD_PREFIXES: [&str; 4] = ["otel.", "rpc.", "http.", "db."];

fn is_trace_only(field: &Field) -> bool {
    let name = field.name();
    TRACE_ONLY_FIELD_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The log layer's field formatter: tracing-subscriber's default one, minus
/// the trace-only span attributes. The log layer formats a span's fields
/// into a string when the span is made, whether or not a line is ever
/// written in it (a successful call writes none at `info`); formatting the
/// OpenTelemetry attributes cost about 8% of a status read's instructions.
/// A failure line still names the operation (the span's name), the request
/// id, the account and the trace id.
struct LogFields;

struct LogFieldsVisitor<'writer>(DefaultVisitor<'writer>);

impl<'writer> FormatFields<'writer> for LogFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = LogFieldsVisitor(DefaultVisitor::new(writer, true));
        fields.record(&mut visitor);
        visitor.finish()
    }

    /// Appends to a span's fields, with a separating space only once there
    /// is something to separate (the default pushes one for every record,
    /// even of a field left out).
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> std::fmt::Result {
        let is_empty = current.fields.is_empty();
        let mut visitor = LogFieldsVisitor(DefaultVisitor::new(current.as_writer(), is_empty));
        fields.record(&mut visitor);
        visitor.finish()
    }
}

impl Visit for LogFieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !is_trace_only(field) {
            self.0.record_str(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !is_trace_only(field) {
            self.0.record_error(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !is_trace_only(field) {
            self.0.record_debug(field, value);
        }
    }
}

impl VisitOutput<std::fmt::Result> for LogFieldsVisitor<'_> {
    fn finish(self) -> std::fmt::Result {
        self.0.finish()
    }
}

impl VisitFmt for LogFieldsVisitor<'_> {
    fn writer(&mut self) -> &mut dyn std::fmt::Write {
        self.0.writer()
    }
}

impl Telemetry {
    /// Exports the spans still buffered.
    pub async fn shutdown(self) {
        let Some(provider) = self.tracer_provider else {
            return;
        };
        // Shutting down blocks until the exporter task on the runtime has
        // flushed; wait for it off the runtime's worker threads.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            eprintln!("statusgate: warning: flushing traces failed: {error}");
        }
    }
}

/// The transport a request arrived on, for spans and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Grpc,
    Http,
    /// The REST gateway's in-process calls (counted apart from gRPC's).
    Rest,
}

impl Transport {
    pub const ALL: [Self; 3] = [Self::Grpc, Self::Http, Self::Rest];

    /// Its place in [`Self::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Http => "http",
            Self::Rest => "rest",
        }
    }
}

/// The server span of one request, named by its operation
/// (`GetChangeTokenStatus`; a literal, since span names are static), with the
/// `rpc.*` attributes and the AWS request id. The handler records
/// `aws.account_id`, the transport the outcome; [`continue_trace`] parents it
/// on the caller's trace.
#[macro_export]
macro_rules! operation_span {
    ($operation:expr, rpc_system = $rpc_system:expr, service = $service:expr, request_id = $request_id:expr $(,)?) => {
        tracing::info_span!(
            $operation,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = $rpc_system,
            rpc.service = $service,
            rpc.method = $operation,
            rpc.grpc.status_code = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            aws.request_id = %$request_id,
            aws.account_id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    };
}

/// Makes `span` continue the caller's W3C trace (`traceparent` in HTTP
/// headers or gRPC metadata) and records the trace id, so that every log line
/// of the request carries it.
pub fn continue_trace(span: &Span, headers: &http::HeaderMap) {
    let parent =
        TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    let callers_trace_id = parent.span().span_context().trace_id();
    let _ = span.set_parent(parent);
    // With the OpenTelemetry layer the span has a trace id of its own (the
    // caller's, or a new root); without it, the caller's is all there is.
    let trace_id = match span.context().span().span_context().trace_id() {
        opentelemetry::trace::TraceId::INVALID => callers_trace_id,
        own => own,
    };
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Marks the request span as failed on our side (a 5xx or its gRPC peers).
pub fn record_server_error(span: &Span) {
    span.record("otel.status_code", "ERROR");
}

/// Records the caller's account on the current request span.
pub fn record_account(account: &crate::domain::AccountId) {
    Span::current().record("aws.account_id", account.as_str());
}
