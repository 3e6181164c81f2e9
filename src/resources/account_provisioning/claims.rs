//! The `aft_account_provisioning` side of coordination between Terraform states
//! ([`crate::framework::coordination`]): what a plan says about an email another state claims,
//! and the diagnostics of a claim refused at apply time.

use crate::context::Context;
use crate::framework::coordination::{self, Claim, ClaimError};
use crate::inventory::imported::AccountModel;
use crate::plugin::{Attr, AttrPath, Diagnostic, Diagnostics, Private};

use super::Provenance;

/// Private-data key a plan writes when the apply takes the claim over from another state (an
/// account imported into this state): the owner it takes it from.
pub const TAKEOVER: &str = "claim_takeover_from";

/// The summary of every refusal because another state owns the email.
pub const CLAIMED: &str = "AccountEmail is claimed by another Terraform state";

fn email_path() -> AttrPath {
    AttrPath::attr("control_tower_parameters").key("AccountEmail")
}

/// Why a claim by another state stops this one, and what to do.
fn claimed_detail(email: &str, claim: &Claim, table: &str, ours: &str) -> String {
    let account = claim.account_id.as_deref().map(|a| format!(", account {a}")).unwrap_or_default();
    let since =
        Some(claim.claimed_at.as_str()).filter(|t| !t.is_empty()).map(|t| format!(", since {t}")).unwrap_or_default();
    format!(
        "{email} is claimed by \"{}\"{account}{since} in the coordination table {table}; this state is \"{ours}\". Each \
         account belongs to one Terraform state, so nothing was changed. To move the account into this state, remove it \
         from \"{}\"'s configuration with a removed block (lifecycle {{ destroy = false }}), then import it here (an \
         import block or terraform import, by email or account id): the import takes the claim over.",
        claim.owner, claim.owner
    )
}

/// The apply-time refusal (or failure) of a claim, as Terraform shows it.
pub fn claim_failed(e: ClaimError, ours: &str) -> Diagnostics {
    match e {
        ClaimError::Claimed { email, table, claim } => {
            Diagnostic::error(CLAIMED, claimed_detail(&email, &claim, &table, ours)).at(email_path()).into()
        }
        ClaimError::Aws(e) => Diagnostic::error("Claiming the AccountEmail failed", e.to_string()).into(),
    }
}

/// An account in this state whose email another state claims: the plan may not write to it.
pub struct Foreign {
    email: String,
    claim: Claim,
    table: String,
    ours: String,
}

impl Foreign {
    /// What the plan says: an error when it would change the account (a framework run, an OU
    /// move), a warning when it changes nothing in AWS. (Terraform plans every resource before a
    /// destroy too, so a plan that only refreshes must not fail: the destroy of an account another
    /// state owns is how this state lets go of it.)
    pub fn diagnostic(&self, writes: bool) -> Diagnostic {
        let detail = claimed_detail(&self.email, &self.claim, &self.table, &self.ours);
        match writes {
            true => Diagnostic::error(CLAIMED, detail).at(email_path()),
            false => Diagnostic::warning(
                format!("This state no longer owns {}", self.email),
                format!(
                    "{detail} This plan changes nothing in AWS for it. Remove it from this configuration: the destroy \
                     removes it from this state only, and leaves its account, metadata item, row and claim as they are."
                ),
            )
            .at(email_path()),
        }
    }
}

/// Plan time: records which owner the apply claims for (`coordination_owner`), refuses a create
/// whose email another state claims, takes the claim over for an account imported into this
/// state (said as a warning), returns [`Foreign`] for an account of this state that another
/// state now claims, and says what cannot be guarded without coordination. `prior` is `None`
/// for a create.
pub async fn plan(
    ctx: &Context,
    config: &AccountModel,
    prior: Option<&AccountModel>,
    planned: &mut AccountModel,
    private: &mut Private,
) -> (Diagnostics, Option<Foreign>) {
    let mut d = Diagnostics::new();
    private.remove(TAKEOVER);
    let Some(co) = &ctx.settings.coordination else {
        if prior.is_none() {
            planned.coordination_owner = Attr::Null;
            d.push(Diagnostic::warning(
                "No coordination between Terraform states",
                "The provider block has no coordination block, so this provider process guards only its own work: \
                 another Terraform state or CI runner that declares the same AccountEmail can take this account over (and \
                 its destroy can remove the account's AFT metadata), and Control Tower account operations are counted only \
                 from what AWS shows in flight, so two runners can both send the operation that exceeds Control Tower's \
                 limit. Add coordination { owner = \"<this state's name>\" } to share claims and operation leases through \
                 a DynamoDB table.",
            ));
        }
        return (d, None);
    };
    planned.coordination_owner = Attr::Known(co.owner.clone());
    let email = match &config.control_tower_parameters {
        Attr::Known(m) => m.get("AccountEmail").and_then(|e| e.as_str()).map(str::to_string),
        _ => None,
    };
    let Some(email) = email else { return (d, None) };
    let claims = match coordination::planned_claims(ctx).await {
        Ok(c) => c,
        Err(e) => {
            d.push(Diagnostic::error("Reading the coordination table failed", e.to_string()).at(email_path()));
            return (d, None);
        }
    };
    let Some(claims) = claims else {
        if prior.is_none() {
            d.push(Diagnostic::warning(
                format!("The coordination table {} does not exist yet", co.table),
                "The first apply creates it (or create it once by hand, as the coordination guide shows). Until it exists \
                 this plan sees no claim; the apply claims each email before it changes anything.",
            ));
        }
        return (d, None);
    };
    let Some(claim) = claims.get(&email.trim().to_ascii_lowercase()) else { return (d, None) };
    if claim.owner == co.owner {
        return (d, None);
    }
    // an account imported into this state (no framework run of ours, never claimed by us): the
    // import is the explicit takeover
    let imported = prior.is_some_and(|p| {
        Provenance::of(p) == Provenance::Imported && p.coordination_owner.as_str() != Some(co.owner.as_str())
    });
    if imported {
        private.insert(TAKEOVER.into(), claim.owner.clone().into());
        d.push(
            Diagnostic::warning(
                format!("This state takes {email} over from \"{}\"", claim.owner),
                format!(
                    "The account was imported into this state while \"{}\" claims it; the apply moves the claim to \"{}\" \
                     (and changes nothing else). Stop managing it in \"{}\": a removed block with lifecycle {{ destroy = \
                     false }}, or terraform state rm (a destroy there would leave the account alone, since it no longer \
                     owns the claim).",
                    claim.owner, co.owner, claim.owner
                ),
            )
            .at(email_path()),
        );
        return (d, None);
    }
    let foreign = Foreign { email, claim: claim.clone(), table: co.table.clone(), ours: co.owner.clone() };
    match prior {
        None => {
            d.push(foreign.diagnostic(true));
            (d, None)
        }
        Some(p) => {
            // the claim stays where it is: no apply of this plan writes it
            planned.coordination_owner = p.coordination_owner.clone();
            (d, Some(foreign))
        }
    }
}
