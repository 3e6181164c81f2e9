//! Bad input to `aft_account_provisioning` fails at plan with a diagnostic on the exact
//! attribute (Terraform turns our attribute path into the offending source line), and nothing
//! is created in AWS.

use aft_test_harness as common;

use common::{Landing, Tf};

fn ct(overrides: &[(&str, Option<&str>)], extra_keys: &str) -> String {
    let mut params = vec![
        ("AccountEmail", "valid@example.com".to_string()),
        ("AccountName", "Valid".to_string()),
        ("ManagedOrganizationalUnit", "Sandbox".to_string()),
        ("SSOUserEmail", "owner@example.com".to_string()),
        ("SSOUserFirstName", "Ada".to_string()),
        ("SSOUserLastName", "Lovelace".to_string()),
    ];
    for (k, v) in overrides {
        params.retain(|(x, _)| x != k);
        if let Some(v) = v {
            params.push((k, v.to_string()));
        }
    }
    let body: String = params.iter().map(|(k, v)| format!("    {k} = \"{v}\"\n")).collect();
    format!("  control_tower_parameters = {{\n{body}{extra_keys}  }}\n")
}

fn resource(name: &str, ct: &str, extra: &str) -> String {
    format!("resource \"aft_account_provisioning\" \"{name}\" {{\n{ct}{extra}}}\n")
}

struct Case {
    what: &'static str,
    hcl: String,
    /// Text of the source line the error must point at.
    points_at: String,
}

fn cases() -> Vec<Case> {
    let long = |n: usize| "x".repeat(n);
    let one = |what, ov: &[(&str, Option<&str>)], points_at: &str| Case {
        what,
        hcl: resource("bad", &ct(ov, ""), ""),
        points_at: points_at.to_string(),
    };
    let extra = |what, extra: String, points_at: &str| Case {
        what,
        hcl: resource("bad", &ct(&[], ""), &extra),
        points_at: points_at.to_string(),
    };
    let mut v = vec![
        one("email without @", &[("AccountEmail", Some("not-an-email"))], "not-an-email"),
        one("email too short", &[("AccountEmail", Some("a@b.c"))], "a@b.c"),
        one("email with two @", &[("AccountEmail", Some("a@@example.com"))], "a@@example.com"),
        one("email domain without dot", &[("AccountEmail", Some("ops@localhost"))], "ops@localhost"),
        one("email not ASCII", &[("AccountEmail", Some("zoé@example.com"))], "zoé@example.com"),
        one("email with a space", &[("AccountEmail", Some("a b@example.com"))], "a b@example.com"),
        one("empty account name", &[("AccountName", Some(""))], "AccountName = \"\""),
        one("blank account name", &[("AccountName", Some("   "))], "AccountName = \"   \""),
        one("empty OU", &[("ManagedOrganizationalUnit", Some(""))], "ManagedOrganizationalUnit = \"\""),
        one("malformed nested OU", &[("ManagedOrganizationalUnit", Some("Sandbox (ou-bad)"))], "Sandbox (ou-bad)"),
        one("short OU id", &[("ManagedOrganizationalUnit", Some("ou-12"))], "ou-12"),
        one("OU with leading space", &[("ManagedOrganizationalUnit", Some(" Sandbox"))], "\" Sandbox\""),
        one("bad SSO email", &[("SSOUserEmail", Some("nobody"))], "\"nobody\""),
        one("empty SSO first name", &[("SSOUserFirstName", Some(""))], "SSOUserFirstName = \"\""),
        one("blank SSO last name", &[("SSOUserLastName", Some("  "))], "SSOUserLastName = \"  \""),
        one("missing SSOUserLastName", &[("SSOUserLastName", None)], "control_tower_parameters = {"),
        Case {
            what: "typo in a key",
            hcl: resource("bad", &ct(&[("SSOUserEmail", None)], "    SSOUserEmial = \"x@example.com\"\n"), ""),
            points_at: "SSOUserEmial".into(),
        },
        extra("reserved aws: tag", "  account_tags = { \"aws:owner\" = \"x\" }\n".into(), "aws:owner"),
        extra("tag key with !", "  account_tags = { \"Owner!\" = \"x\" }\n".into(), "Owner!"),
        extra("tag key too long", format!("  account_tags = {{ \"{}\" = \"x\" }}\n", long(129)), &long(129)),
        extra("tag value too long", format!("  account_tags = {{ Owner = \"{}\" }}\n", long(257)), &long(257)),
        extra("custom field key with space", "  custom_fields = { \"bad key\" = \"v\" }\n".into(), "bad key"),
        extra("empty custom field", "  custom_fields = { tier = \"\" }\n".into(), "tier = \"\""),
        extra("custom field too long", format!("  custom_fields = {{ blob = \"{}\" }}\n", long(4097)), "blob"),
        extra("customizations name with !", "  account_customizations_name = \"bad name!\"\n".into(), "bad name!"),
        extra("parking OU malformed", "  parking_organizational_unit = \"Parking (\"\n".into(), "Parking ("),
        extra("timeout not a duration", "  timeouts {\n    create = \"ten minutes\"\n  }\n".into(), "ten minutes"),
    ];
    v.push(one("account name too long", &[("AccountName", Some(&long(51)))], &long(51)));
    v.push(one("account name not ASCII", &[("AccountName", Some("Compte é"))], "Compte é"));
    let many: String = (0..51).map(|i| format!("\"k{i}\" = \"v\", ")).collect();
    v.push(extra("51 tags", format!("  account_tags = {{ {many} }}\n"), "account_tags = {"));
    v.push(Case {
        what: "duplicate emails in one configuration",
        hcl: format!(
            "{}{}",
            resource("one", &ct(&[("AccountEmail", Some("same@example.com"))], ""), ""),
            resource("two", &ct(&[("AccountEmail", Some("SAME@example.com")), ("AccountName", Some("Other"))], ""), "")
        ),
        points_at: "AccountEmail = \"".into(),
    });
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_requests_fail_at_plan_on_the_attribute_and_create_nothing() {
    let l = Landing::new().await;
    let provider = l.provider("  account_factory {\n    method = \"organizations\"\n  }");
    let cases = cases();
    common::terraform::assert_each_fails_at(
        cases.iter().map(|c| (c.what, format!("{provider}\n{}", c.hcl), c.points_at.as_str())),
        || Tf::new("invalid"),
    );

    // nothing was written to AWS
    let accounts = l.org().list_accounts().send().await.unwrap();
    assert_eq!(accounts.accounts().len(), 1, "only the management account exists");
    let items =
        aws_sdk_dynamodb::Client::new(&l.aft_cfg).scan().table_name("aft-request-metadata").send().await.unwrap();
    assert_eq!(items.count(), 0);
}
