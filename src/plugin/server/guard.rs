//! The panic guard around provider code: a panic inside an RPC becomes an error diagnostic in
//! that RPC's own result type, instead of a task that dies and a connection Terraform sees drop.

use crate::plugin::diagnostics::{Diagnostic, Diagnostics};
use crate::plugin::traits::Failed;

/// What a panic in provider code turns into: an error diagnostic in the RPC's own result type.
pub(super) trait FromPanic {
    fn from_panic(d: Diagnostics) -> Self;
}

impl<T> FromPanic for Result<T, Diagnostics> {
    fn from_panic(d: Diagnostics) -> Self {
        Err(d)
    }
}

impl<T> FromPanic for Result<T, Failed> {
    fn from_panic(d: Diagnostics) -> Self {
        Err(d.into())
    }
}

impl FromPanic for Diagnostics {
    fn from_panic(d: Diagnostics) -> Self {
        d
    }
}

/// Runs provider code for an RPC. A panic inside it becomes an error diagnostic naming the RPC,
/// instead of a task that dies and a plugin connection that Terraform sees dropped.
pub(super) async fn guarded<O: FromPanic>(rpc: &str, f: impl std::future::Future<Output = O>) -> O {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(f).catch_unwind().await {
        Ok(out) => out,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            tracing::error!(rpc, panic = %what, "provider code panicked");
            O::from_panic(
                Diagnostic::error(
                    "The provider hit an internal error",
                    format!("{rpc} panicked: {what}. This is a bug in terraform-provider-aft: please report it. What the call did before the panic is in AWS; the next plan reads it."),
                )
                .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_inside_an_rpc_becomes_an_error_diagnostic() {
        let out: Result<u8, Diagnostics> = guarded("ReadResource", async {
            let v: Vec<u8> = Vec::new();
            // an index out of bounds, as a bug would have it
            if v.is_empty() {
                panic!("index out of bounds: the len is {} but the index is 3", v.len());
            }
            Ok(v[3])
        })
        .await;
        let d = out.unwrap_err();
        assert!(d.has_errors());
        assert_eq!(d.0[0].summary, "The provider hit an internal error");
        assert!(d.0[0].detail.contains("ReadResource panicked: index out of bounds"), "{}", d.0[0].detail);
        // and code that does not panic is untouched
        let fine: Diagnostics = guarded("PlanResourceChange", async { Diagnostics::new() }).await;
        assert!(fine.is_empty());
    }
}
