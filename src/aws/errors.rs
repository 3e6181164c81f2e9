//! AWS errors as the provider reports them: which step, which account, which API call.

use std::fmt::Display;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

/// An AWS call that failed, with what it was doing.
#[derive(Debug, Error, Clone)]
#[error("{api} failed{}: {code}: {message}", account.as_ref().map(|a| format!(" in account {a}")).unwrap_or_default())]
pub struct AwsError {
    /// The API call, e.g. `organizations:CreateAccount`.
    pub api: &'static str,
    /// The account the call was made in or about, when known.
    pub account: Option<String>,
    /// The AWS error code (`ThrottlingException`, `AccessDenied`, ...), or a transport error kind.
    pub code: String,
    /// The message AWS returned.
    pub message: String,
}

impl AwsError {
    /// Builds an error from any SDK error.
    pub fn from_sdk<E, R>(api: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                match e.code() {
                    Some(code) => (code.to_string(), e.message().map(str::to_string).unwrap_or_else(|| e.to_string())),
                    // An answer the SDK could not read as an AWS error. Its body is never shown: a
                    // malformed answer (of STS, say) may carry credentials into logs and diagnostics.
                    None => ("ServiceError".to_string(), format!("an unreadable error answer ({})", source_chain(e))),
                }
            }
            SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
            // Display forms only, never Debug: the Debug form of these holds the raw response
            SdkError::DispatchFailure(_) => ("DispatchFailure".to_string(), source_chain(&err)),
            SdkError::ResponseError(_) => ("ResponseError".to_string(), source_chain(&err)),
            other => ("Error".to_string(), source_chain(other)),
        };
        AwsError { api, account: None, code, message }
    }

    /// Names the account the call concerned.
    pub fn in_account(mut self, account: impl Display) -> Self {
        self.account = Some(account.to_string());
        self
    }

    /// True when the call may succeed if made again: throttling, a server-side failure, or a
    /// request whose answer never arrived (so it may also have been applied).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ConcurrentModificationException"
                | "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "ServiceException"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "Unavailable"
                | "Timeout"
                | "DispatchFailure"
                | "ResponseError"
                | "ServiceError"
        )
    }

    /// True for AWS error codes that mean "not found".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_str(),
            "ResourceNotFoundException"
                | "AccountNotFoundException"
                | "NoSuchEntity"
                | "ParameterNotFound"
                | "StateMachineDoesNotExist"
                | "NotFound"
                | "NotFoundException"
                | "PipelineNotFoundException"
                | "TrailNotFoundException"
                | "ResourceNotFound"
        )
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `.aws("service:Api")` on an SDK result turns its error into an [`AwsError`].
pub trait AwsResultExt<T> {
    /// Maps the SDK error, naming the API call.
    fn aws(self, api: &'static str) -> Result<T, AwsError>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn aws(self, api: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(api, e))
    }
}
