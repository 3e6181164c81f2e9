//! AWS errors as the provider reports them: which step, which account, which API call.

use std::fmt::Display;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

/// An AWS call that failed, with what it was doing.
#[derive(Debug, Error, Clone)]
#[error("{api} failed{}: {code}: {message}{}", account.as_ref().map(|a| format!(" in account {a}")).unwrap_or_default(), self.hint())]
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
        // A hop of the role chain refused while loading this call's credentials: the refusal is
        // the error (its own call, code and message), not a "dispatch failure" to try again
        if let SdkError::DispatchFailure(failure) = &err
            && let Some(refused) = failure.as_connector_error().and_then(|c| assume_role_error(c))
        {
            let code = refused.code().unwrap_or("ServiceError").to_string();
            let message = format!(
                "{} (assuming a role of AFT's chain for {api})",
                refused.message().map(str::to_string).unwrap_or_else(|| source_chain(refused))
            );
            return AwsError { api: "sts:AssumeRole", account: None, code, message };
        }
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

    /// True when a service refused a role it was handed because IAM has not propagated it yet
    /// (Step Functions' "Neither the global service principal … is authorized to assume the
    /// provided role", CodePipeline's "not authorized to perform AssumeRole"): the same call
    /// succeeds a few seconds later (IAM is eventually consistent).
    pub fn is_role_not_propagated(&self) -> bool {
        let m = self.message.as_str();
        match self.code.as_str() {
            "AccessDeniedException" | "InvalidArn" => {
                m.contains("assume the provided role") || m.contains("AssumeRole")
            }
            "InvalidStructureException" => m.contains("not authorized to perform AssumeRole"),
            _ => false,
        }
    }

    /// True when the caller lacks a permission (whatever the service calls it).
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "AuthorizationError"
                | "UnauthorizedException"
                | "KMSAccessDeniedException"
                | "KMSAccessDenied"
        )
    }

    /// What to grant, for a refused call: KMS on AFT's key when the refusal is KMS's, else the
    /// action itself, which the shipped policies assign to a principal.
    fn hint(&self) -> String {
        let kms = self.code.starts_with("KMS") || (self.is_access_denied() && self.message.contains("kms:"));
        if kms {
            format!(
                " (access denied: {} needs KMS on AFT's key, alias/aft, which encrypts AFT's tables, topics and pipeline \
                 artifacts; grant kms:Decrypt, kms:Encrypt and kms:GenerateDataKey on it, as policies/provider.json \
                 does, see docs/guides/permissions.md)",
                self.api
            )
        } else if self.is_access_denied() {
            format!(
                " (access denied: the principal making this call needs {}; policies/ and docs/guides/permissions.md \
                 say which principal that is)",
                self.api
            )
        } else {
            String::new()
        }
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

/// Makes `call` again while it fails only because a role it hands over has not propagated in IAM
/// yet, with growing waits, for at most `timeout`; any other answer is returned at once.
pub async fn while_role_propagates<T, F, Fut>(timeout: std::time::Duration, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let deadline = std::time::Instant::now() + timeout;
    let mut wait = std::time::Duration::from_millis(250);
    loop {
        match call().await {
            Err(e) if e.is_role_not_propagated() && std::time::Instant::now() + wait < deadline => {
                tracing::debug!(api = e.api, error = %e, "the role is not usable yet; IAM is still propagating");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// The STS AssumeRole error among an error's sources: a credentials provider of the role chain
/// (`aws_config::sts::AssumeRoleProvider`) that failed before the call could be sent.
fn assume_role_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a aws_sdk_sts::operation::assume_role::AssumeRoleError> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(found) = c.downcast_ref::<aws_sdk_sts::operation::assume_role::AssumeRoleError>() {
            return Some(found);
        }
        cur = c.source();
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";

    fn raw() -> Response {
        let body = format!("<AssumeRoleResponse><Credentials><SecretAccessKey>{SECRET}</SecretAccessKey>");
        Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
    }

    #[test]
    fn a_malformed_answer_never_carries_its_body_into_the_error() {
        let unreadable = SdkError::service_error(AssumeRoleError::generic(ErrorMetadata::builder().build()), raw());
        let truncated: SdkError<AssumeRoleError, Response> =
            SdkError::response_error("failed to parse the response: unexpected end of XML", raw());
        for err in [unreadable, truncated] {
            let e = AwsError::from_sdk("sts:AssumeRole", err);
            for text in [e.to_string(), format!("{e:?}")] {
                assert!(!text.contains(SECRET), "the raw answer leaked: {text}");
                assert!(text.contains("sts:AssumeRole"), "{text}");
            }
        }
    }

    #[test]
    fn a_refusal_says_what_to_grant() {
        let e = |api: &'static str, code: &str, message: &str| {
            AwsError { api, account: Some("111122223333".into()), code: code.into(), message: message.into() }
                .to_string()
        };
        let denied = e("sns:Publish", "AuthorizationError", "User is not authorized to perform: SNS:Publish");
        assert!(
            denied.contains("in account 111122223333")
                && denied.contains("access denied: the principal making this call needs sns:Publish"),
            "{denied}"
        );
        let kms =
            e("dynamodb:PutItem", "AccessDeniedException", "User is not authorized to perform: kms:GenerateDataKey");
        assert!(kms.contains("KMS on AFT's key, alias/aft"), "{kms}");
        let sns_kms = e("sns:Publish", "KMSAccessDenied", "The ciphertext refers to a key that is not accessible");
        assert!(sns_kms.contains("alias/aft"), "{sns_kms}");
        assert!(!e("sns:Publish", "NotFound", "Topic does not exist").contains("access denied"));
    }

    #[test]
    fn a_role_not_yet_propagated_is_recognised() {
        let e = |code: &str, message: &str| AwsError {
            api: "x",
            account: None,
            code: code.into(),
            message: message.into(),
        };
        assert!(e("AccessDeniedException", "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.").is_role_not_propagated());
        assert!(
            e(
                "InvalidStructureException",
                "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::1:role/r"
            )
            .is_role_not_propagated()
        );
        assert!(
            !e("AccessDeniedException", "User is not authorized to perform states:CreateStateMachine")
                .is_role_not_propagated()
        );
        assert!(!e("InvalidStructureException", "stage names must be unique").is_role_not_propagated());
    }
}
