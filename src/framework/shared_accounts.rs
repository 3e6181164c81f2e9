//! The landing zone's shared accounts (Control Tower management, log archive, audit, AFT
//! management): which account plays which part, found from the provider settings, AFT's SSM
//! parameters and Organizations ([`crate::context::LandingZone`]). The provider never closes,
//! parks or moves one of them; plan time refuses a configuration that asks it to.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::aws::organizations::{self, AccountInfo};
use crate::aws::{AwsError, clients};
use crate::context::{Context, SharedRole};

/// A shared account as Organizations describes it.
#[derive(Clone, Debug)]
pub struct SharedAccount {
    pub role: SharedRole,
    pub account: AccountInfo,
}

/// The shared accounts described once per provider process.
#[derive(Default)]
struct Described(OnceCell<Arc<Vec<SharedAccount>>>);

/// The role of `account_id` when it is a shared account.
pub async fn role_of(ctx: &Context, account_id: &str) -> Result<Option<SharedRole>, AwsError> {
    Ok(ctx.landing_zone().await?.role_of(account_id))
}

/// Every shared account Organizations knows, described (one look per provider process).
pub async fn all(ctx: &Context) -> Result<Arc<Vec<SharedAccount>>, AwsError> {
    let memo = ctx.memo::<Described>();
    memo.0
        .get_or_try_init(|| async {
            let lz = ctx.landing_zone().await?.clone();
            let org = clients::organizations(&ctx.ct_session().await?);
            let mut out = Vec::new();
            for (role, id) in lz.shared() {
                if let Some(account) = organizations::describe_account(&org, id).await? {
                    out.push(SharedAccount { role, account });
                }
            }
            Ok(Arc::new(out))
        })
        .await
        .cloned()
}

/// The shared account whose primary email is `email` (ignoring case), if any.
pub async fn by_email(ctx: &Context, email: &str) -> Result<Option<SharedAccount>, AwsError> {
    Ok(all(ctx).await?.iter().find(|s| s.account.email.eq_ignore_ascii_case(email)).cloned())
}
