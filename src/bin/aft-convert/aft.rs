//! What AFT's `aft-account-request` module is: which module calls are its calls, and what becomes
//! of each of their arguments (its `variables.tf`: `control_tower_parameters`, `account_tags`,
//! `change_management_parameters`, `custom_fields`, `account_customizations_name`,
//! `account-request-table`, `account-request-table-hash`, `workflow_type`).

/// Whether a module `source` is AFT's `aft-account-request` module: its last path segment is
/// `aft-account-request` once a `?ref=…` query is removed (`./modules/aft-account-request`,
/// `git::https://…//modules/aft-account-request?ref=v1`), or, for a registry address
/// (`[host/]namespace/name/provider`), its name is.
pub fn is_account_request(source: &str) -> bool {
    const NAME: &str = "aft-account-request";
    let path = source.split('?').next().unwrap_or_default().trim_end_matches('/');
    if path.rsplit(['/', ':']).next() == Some(NAME) {
        return true;
    }
    let local = path.starts_with("./") || path.starts_with("../") || path.starts_with('/');
    let segments: Vec<&str> = path.split('/').collect();
    !local && !path.contains("::") && (3..=4).contains(&segments.len()) && segments[segments.len() - 2] == NAME
}

/// Whether a source is a local path, which Terraform resolves against the calling file's
/// directory.
pub fn is_local(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../")
}

/// The keys `control_tower_parameters` must have, for AFT's module (its object type) and for the
/// resource (exactly these).
pub const CONTROL_TOWER_KEYS: [&str; 6] =
    ["AccountEmail", "AccountName", "ManagedOrganizationalUnit", "SSOUserEmail", "SSOUserFirstName", "SSOUserLastName"];

/// The keys of `change_management_parameters` (AFT's object type; the resource's nested
/// attributes).
pub const CHANGE_MANAGEMENT_KEYS: [&str; 2] = ["change_requested_by", "change_reason"];

/// What becomes of one argument of a module call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Copied to the resource as written: an argument of both the module and the resource.
    Kept,
    /// `for_each` or `count`: copied as written, and it shapes the import block.
    Repeat,
    /// `source` and `version` say which module; the resource has no module to name.
    Module,
    /// Not copied, and reported with this reason.
    Dropped(&'static str),
}

/// What becomes of the module call argument `name`.
pub fn classify(name: &str) -> Arg {
    match name {
        "control_tower_parameters"
        | "account_tags"
        | "change_management_parameters"
        | "custom_fields"
        | "account_customizations_name" => Arg::Kept,
        "for_each" | "count" => Arg::Repeat,
        "source" | "version" => Arg::Module,
        "account-request-table" | "account-request-table-hash" => Arg::Dropped(
            "names the DynamoDB table (or its key) AFT's module writes the request to; the resource has no such \
             argument: the provider finds the table from SSM /aft/resources/ddb/aft-request-table-name",
        ),
        "workflow_type" => Arg::Dropped(
            "an input of AFT's module that the resource does not take (the provider runs the framework on apply)",
        ),
        "providers" => Arg::Dropped("the module's AWS providers; the resource uses the aft provider"),
        "depends_on" => Arg::Dropped("not copied: its addresses name the request repository's objects"),
        _ => Arg::Dropped("not an argument of AFT's aft-account-request module, nor of the resource"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        for s in [
            "./modules/aft-account-request",
            "../../modules/aft-account-request/",
            "git::https://example.com/org/aft.git//modules/aft-account-request?ref=v1.2.0",
        ] {
            assert!(is_account_request(s), "{s}");
        }
        assert!(is_account_request("app.terraform.io/acme/aft-account-request/aws"));
        assert!(is_account_request("acme/aft-account-request/aws"));
        assert!(!is_account_request("./modules/aft-account-request-wrapper"));
        assert!(!is_account_request("./modules/aft-account-request/extra"));
        assert!(!is_account_request("terraform-aws-modules/vpc/aws"));
        assert!(!is_account_request("./teams/aft-account-request/x"));
    }
}
