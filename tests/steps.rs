//! Framework steps against scripted AWS answers (aws-smithy-mocks), beside their end-to-end
//! tests against moto: what each step sends for a given AWS state, that a step which finds
//! everything in place writes nothing, and the failures moto cannot produce (a lost answer, an
//! account that is not ACTIVE).

use std::collections::BTreeMap;

use aft_test_harness as common;

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use terraform_provider_aft::framework::features::{cloudtrail, default_vpcs, enterprise_support};
use terraform_provider_aft::framework::{
    StepError, account_factory, account_info, custom_fields, customizations, execution_role, metadata, notify,
    pipeline, request_row, tags, vend,
};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

mod organizations {
    use aws_sdk_organizations::Client;
    use aws_sdk_organizations::error::ErrorMetadata;
    use aws_sdk_organizations::operation::describe_account::{DescribeAccountError, DescribeAccountOutput};
    use aws_sdk_organizations::operation::list_parents::ListParentsOutput;
    use aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_organizations::operation::tag_resource::TagResourceOutput;
    use aws_sdk_organizations::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_organizations::types::{Account, AccountState, Parent, ParentType, Tag};

    use super::*;

    fn tagged(pairs: &[(&str, &str)]) -> ListTagsForResourceOutput {
        let mut out = ListTagsForResourceOutput::builder();
        for (k, v) in pairs {
            out = out.tags(Tag::builder().key(*k).value(*v).build().unwrap());
        }
        out.build()
    }

    #[tokio::test]
    async fn tags_are_truly_synced_and_aws_tags_are_left_alone() {
        let list = mock!(Client::list_tags_for_resource)
            .match_requests(|r| r.resource_id() == Some("111122223333"))
            .then_output(|| tagged(&[("Owner", "a"), ("Stale", "x"), ("aws:cloudformation:stack-name", "s")]));
        let untag = mock!(Client::untag_resource)
            .match_requests(|r| r.tag_keys() == ["Stale"])
            .then_output(|| UntagResourceOutput::builder().build());
        let tag = mock!(Client::tag_resource)
            .match_requests(|r| {
                let t: Vec<(&str, &str)> = r.tags().iter().map(|t| (t.key(), t.value())).collect();
                t == [("Owner", "b"), ("Team", "platform")]
            })
            .then_output(|| TagResourceOutput::builder().build());
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&list, &untag, &tag]);
        let done = tags::sync(&org, "111122223333", &map(&[("Owner", "b"), ("Team", "platform")])).await.unwrap();
        assert_eq!((untag.num_calls(), tag.num_calls()), (1, 1), "one untag of Stale, one tag of Owner and Team");
        assert_eq!(done.detail, "2 tags set, 1 removed");
    }

    #[tokio::test]
    async fn tags_of_afts_own_request_are_added_and_updated_never_removed() {
        use terraform_provider_aft::framework::request::RequestOwner;
        let list = mock!(Client::list_tags_for_resource).then_output(|| tagged(&[("Owner", "a"), ("CostCenter", "x")]));
        let untag = mock!(Client::untag_resource).then_output(|| UntagResourceOutput::builder().build());
        let tag = mock!(Client::tag_resource)
            .match_requests(|r| {
                let t: Vec<(&str, &str)> = r.tags().iter().map(|t| (t.key(), t.value())).collect();
                t == [("Owner", "b"), ("Team", "platform")]
            })
            .then_output(|| TagResourceOutput::builder().build());
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&list, &untag, &tag]);
        let wanted = map(&[("Owner", "b"), ("Team", "platform")]);
        let done = tags::sync_as(&org, "111122223333", &wanted, RequestOwner::Aft).await.unwrap();
        assert_eq!((untag.num_calls(), tag.num_calls()), (0, 1), "CostCenter is kept: {}", done.detail);
        assert!(done.detail.contains("1 not requested kept"), "{}", done.detail);
    }

    #[tokio::test]
    async fn tags_already_in_sync_write_nothing() {
        let list = mock!(Client::list_tags_for_resource).then_output(|| tagged(&[("Owner", "a")]));
        let untag = mock!(Client::untag_resource).then_output(|| UntagResourceOutput::builder().build());
        let tag = mock!(Client::tag_resource).then_output(|| TagResourceOutput::builder().build());
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&list, &untag, &tag]);
        let done = tags::sync(&org, "111122223333", &map(&[("Owner", "a")])).await.unwrap();
        assert_eq!((untag.num_calls(), tag.num_calls()), (0, 0));
        assert!(done.skipped, "{}", done.detail);
    }

    fn account(state: AccountState) -> DescribeAccountOutput {
        DescribeAccountOutput::builder()
            .account(
                Account::builder()
                    .id("111122223333")
                    .arn("arn:aws:organizations::999999999999:account/o-x/111122223333")
                    .email("a@example.com")
                    .name("a")
                    .state(state)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn account_info_reads_the_account_and_its_parent() {
        let describe = mock!(Client::describe_account).then_output(|| account(AccountState::Active));
        let parents = mock!(Client::list_parents).then_output(|| {
            ListParentsOutput::builder()
                .parents(Parent::builder().id("ou-ab12-cdefgh34").r#type(ParentType::OrganizationalUnit).build())
                .build()
        });
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&describe, &parents]);
        let done = account_info::read(&org, "111122223333").await.unwrap();
        assert_eq!(done.value.info.email, "a@example.com");
        assert_eq!(done.value.parent_id, "ou-ab12-cdefgh34");
        assert_eq!(done.value.payload()["account"]["parent_type"], "ORGANIZATIONAL_UNIT");
    }

    /// ListParents answers `pages` in turn (each: parent ids, next token), following the tokens.
    fn parents_in_pages(
        pages: &'static [(&'static [&'static str], Option<&'static str>)],
    ) -> Vec<aws_smithy_mocks::Rule> {
        let mut rules = Vec::new();
        let mut token: Option<&'static str> = None;
        for (ids, next) in pages {
            rules.push(
                mock!(Client::list_parents)
                    .match_requests(move |r| r.child_id() == Some("111122223333") && r.next_token() == token)
                    .then_output(move || {
                        let mut out = ListParentsOutput::builder().set_next_token(next.map(str::to_string));
                        for id in *ids {
                            out = out.parents(Parent::builder().id(*id).r#type(ParentType::OrganizationalUnit).build());
                        }
                        out.build()
                    }),
            );
            token = *next;
        }
        rules
    }

    #[tokio::test]
    async fn a_parent_behind_an_empty_first_page_is_found() {
        let rules = parents_in_pages(&[(&[], Some("t1")), (&["ou-ab12-cdefgh34"], None)]);
        let describe = mock!(Client::describe_account).then_output(|| account(AccountState::Active));
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&rules[0], &rules[1], &describe]);
        let done = account_info::read(&org, "111122223333").await.unwrap();
        assert_eq!(done.value.parent_id, "ou-ab12-cdefgh34", "the parent on the second page");
        assert_eq!((rules[0].num_calls(), rules[1].num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_parent_answer_that_stays_empty_is_an_error_never_an_empty_parent() {
        let rules = parents_in_pages(&[(&[], None)]);
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&rules[0]]);
        match terraform_provider_aft::aws::organizations::parent(&org, "111122223333").await {
            Err(e) => {
                assert_eq!((e.api, e.account.as_deref()), ("organizations:ListParents", Some("111122223333")), "{e}");
                assert_eq!(e.code, "EmptyAnswer", "{e}");
            }
            Ok(p) => panic!("an empty answer became the parent {p:?}"),
        }
        let attempts = terraform_provider_aft::aws::organizations::NON_EMPTY_ATTEMPTS as usize;
        assert_eq!(rules[0].num_calls(), attempts, "read again a bounded number of times");
        // and through the step that writes parent_ou into the metadata item
        let describe = mock!(Client::describe_account).then_output(|| account(AccountState::Active));
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&rules[0], &describe]);
        assert!(account_info::read(&org, "111122223333").await.is_err(), "no account info with parent_ou \"\"");
    }

    #[tokio::test]
    async fn the_root_behind_an_empty_first_page_is_found_and_no_root_is_an_error() {
        use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
        use aws_sdk_organizations::types::Root;
        let first = mock!(Client::list_roots)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| ListRootsOutput::builder().next_token("t1").build());
        let second = mock!(Client::list_roots)
            .match_requests(|r| r.next_token() == Some("t1"))
            .then_output(|| ListRootsOutput::builder().roots(Root::builder().id("r-ab12").build()).build());
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&first, &second]);
        assert_eq!(terraform_provider_aft::aws::organizations::root_id(&org).await.unwrap(), "r-ab12");
        let empty = mock!(Client::list_roots).then_output(|| ListRootsOutput::builder().build());
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&empty]);
        match terraform_provider_aft::aws::organizations::root_id(&org).await {
            Err(e) => assert_eq!((e.api, e.code.as_str()), ("organizations:ListRoots", "EmptyAnswer"), "{e}"),
            Ok(r) => panic!("an empty answer became the root {r:?}"),
        }
    }

    #[tokio::test]
    async fn account_info_fails_on_an_account_that_is_not_active_or_gone() {
        let suspended = mock!(Client::describe_account).then_output(|| account(AccountState::Suspended));
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&suspended]);
        match account_info::read(&org, "111122223333").await {
            Err(StepError::Failed(m)) => assert!(m.contains("is SUSPENDED"), "{m}"),
            other => panic!("expected a failure, got {:?}", other.map(|d| d.detail)),
        }
        let gone = mock!(Client::describe_account).then_error(|| {
            DescribeAccountError::generic(ErrorMetadata::builder().code("AccountNotFoundException").build())
        });
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&gone]);
        match account_info::read(&org, "111122223333").await {
            Err(StepError::Failed(m)) => assert!(m.contains("does not exist"), "{m}"),
            other => panic!("expected a failure, got {:?}", other.map(|d| d.detail)),
        }
    }
}

mod ssm {
    use aws_sdk_ssm::Client;
    use aws_sdk_ssm::operation::delete_parameters::DeleteParametersOutput;
    use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathOutput;
    use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
    use aws_sdk_ssm::types::Parameter;

    use super::*;

    #[tokio::test]
    async fn custom_fields_write_what_changed_and_delete_what_was_removed() {
        let prefix = custom_fields::PREFIX;
        let get = mock!(Client::get_parameters_by_path)
            .match_requests(move |r| r.path() == Some(prefix) && r.recursive() == Some(true))
            .then_output(move || {
                GetParametersByPathOutput::builder()
                    .parameters(Parameter::builder().name(format!("{prefix}same")).value("1").build())
                    .parameters(Parameter::builder().name(format!("{prefix}old")).value("x").build())
                    .build()
            });
        let delete = mock!(Client::delete_parameters)
            .match_requests(move |r| r.names() == [format!("{prefix}old")])
            .then_output(|| DeleteParametersOutput::builder().build());
        let put = mock!(Client::put_parameter)
            .match_requests(move |r| r.name() == Some(&format!("{prefix}new")) && r.value() == Some("2"))
            .then_output(|| PutParameterOutput::builder().build());
        let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&get, &delete, &put]);
        let done = custom_fields::sync(&ssm, "111122223333", &map(&[("same", "1"), ("new", "2")])).await.unwrap();
        assert_eq!((delete.num_calls(), put.num_calls()), (1, 1), "the unchanged value is not rewritten");
        assert_eq!(done.detail, "1 written, 1 deleted, 1 unchanged");
    }
}

mod sns {
    use aws_sdk_sns::Client;
    use aws_sdk_sns::operation::publish::PublishOutput;

    use super::*;

    #[tokio::test]
    async fn a_failure_is_published_to_the_failure_topic_with_its_json() {
        let topic = "arn:aws:sns:us-east-1:111111111111:aft-failure-notifications";
        let publish = mock!(Client::publish)
            .match_requests(move |r| {
                r.topic_arn() == Some(topic)
                    && r.subject() == Some("AFT account provisioning failed")
                    && r.message()
                        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
                        .is_some_and(|m| m["status"] == "FAILED" && m["account_id"] == "111122223333")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]);
        let msg = serde_json::json!({"status": "FAILED", "account_id": "111122223333"});
        notify::publish(&sns, topic, &msg, true).await.unwrap();
        assert_eq!(publish.num_calls(), 1);
    }
}

mod support {
    use aws_sdk_support::Client;
    use aws_sdk_support::error::ErrorMetadata;
    use aws_sdk_support::operation::create_case::{CreateCaseError, CreateCaseOutput};
    use aws_sdk_support::operation::describe_cases::DescribeCasesOutput;
    use aws_sdk_support::types::CaseDetails;

    use super::*;

    fn cases(subjects: &[&str]) -> DescribeCasesOutput {
        let mut out = DescribeCasesOutput::builder();
        for (i, s) in subjects.iter().enumerate() {
            out = out.cases(CaseDetails::builder().case_id(format!("case-{i}")).subject(*s).build());
        }
        out.build()
    }

    #[tokio::test]
    async fn a_lost_create_case_answer_is_never_followed_by_a_second_case() {
        let want = enterprise_support::subject("111122223333");
        let w = want.clone();
        // before: no case; after the lost answer: the case AWS did open
        let describe = mock!(Client::describe_cases)
            .sequence()
            .output(|| cases(&["something else"]))
            .output(move || cases(&["something else", &w]))
            .build();
        let create = mock!(Client::create_case)
            .then_error(|| CreateCaseError::generic(ErrorMetadata::builder().code("InternalServerError").build()));
        let support = mock_client!(aws_sdk_support, RuleMode::MatchAny, [&describe, &create]);
        let said = enterprise_support::request(&support, "111122223333").await.unwrap();
        assert_eq!(create.num_calls(), 1, "CreateCase is not idempotent: never sent twice");
        assert_eq!(describe.num_calls(), 2);
        assert!(said.contains("case-1"), "{said}");
    }

    #[tokio::test]
    async fn an_existing_case_means_already_requested() {
        let want = enterprise_support::subject("111122223333");
        let describe = mock!(Client::describe_cases).then_output(move || cases(&[&want]));
        let create = mock!(Client::create_case).then_output(|| CreateCaseOutput::builder().case_id("new").build());
        let support = mock_client!(aws_sdk_support, RuleMode::MatchAny, [&describe, &create]);
        let said = enterprise_support::request(&support, "111122223333").await.unwrap();
        assert_eq!(create.num_calls(), 0);
        assert!(said.starts_with("Enterprise Support already requested"), "{said}");
    }
}

mod dynamodb {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    use metadata::{MetadataItem, MetadataTable};
    use terraform_provider_aft::framework::request::AccountRequest;

    use super::*;

    fn item() -> MetadataItem {
        MetadataItem {
            id: "111122223333".into(),
            email: "a@example.com".into(),
            account_name: "a".into(),
            account_status: "ACTIVE".into(),
            parent_ou: "ou-ab12-cdefgh34".into(),
            account_level_tags: map(&[("Owner", "platform")]),
            request: Some(AccountRequest {
                control_tower_parameters: map(&[("AccountEmail", "a@example.com")]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_item_is_afts_shape_and_reads_back() {
        let written = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
        let w = written.clone();
        let put = mock!(Client::put_item)
            .match_requests(move |r| {
                *w.lock().unwrap() = r.item().cloned().unwrap_or_default();
                r.table_name() == Some("aft-request-metadata")
            })
            .then_output(|| PutItemOutput::builder().build());
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]);
        MetadataTable::new(ddb, "aft-request-metadata").put(&item()).await.unwrap();
        let stored = written.lock().unwrap().clone();
        // AFT's attributes, AFT's types: tags a map, vcs_information and terraform_workspace empty maps
        for k in [
            "id",
            "email",
            "account_name",
            "account_creation_time",
            "account_status",
            "account_customizations_name",
            "parent_ou",
        ] {
            assert!(matches!(stored.get(k), Some(Av::S(_))), "{k}: {:?}", stored.get(k));
        }
        for k in ["account_level_tags", "vcs_information", "terraform_workspace", "account_request"] {
            assert!(matches!(stored.get(k), Some(Av::M(_))), "{k}: {:?}", stored.get(k));
        }
        let s = stored.clone();
        let get = mock!(Client::get_item)
            .match_requests(|r| r.consistent_read() == Some(true))
            .then_output(move || GetItemOutput::builder().set_item(Some(s.clone())).build());
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get]);
        assert_eq!(MetadataTable::new(ddb, "aft-request-metadata").find("111122223333").await.unwrap(), Some(item()));
    }

    #[tokio::test]
    async fn an_account_without_an_item_is_none_and_a_delete_of_nothing_is_fine() {
        let get = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
        let delete = mock!(Client::delete_item)
            .match_requests(|r| r.key().and_then(|k| k.get("id")) == Some(&Av::S("111122223333".into())))
            .then_output(|| DeleteItemOutput::builder().build());
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &delete]);
        let table = MetadataTable::new(ddb, "aft-request-metadata");
        assert_eq!(table.find("111122223333").await.unwrap(), None);
        table.delete("111122223333").await.unwrap();
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test]
    async fn every_scan_of_the_table_is_consistent() {
        // only a consistent scan is answered; any other fails the read
        let scan = mock!(Client::scan)
            .match_requests(|r| r.consistent_read() == Some(true) && r.table_name() == Some("aft-request-metadata"))
            .then_output(|| {
                ScanOutput::builder()
                    .items([("id".to_string(), Av::S("111122223333".to_string()))].into_iter().collect())
                    .build()
            });
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&scan]);
        let table = MetadataTable::new(ddb, "aft-request-metadata");
        let ids: Vec<String> = table.ids().await.expect("the ids scan is consistent").into_iter().collect();
        assert_eq!(ids, ["111122223333"]);
        assert_eq!(table.all().await.expect("the bulk scan is consistent").len(), 1);
        assert_eq!(scan.num_calls(), 2);
    }

    #[tokio::test]
    async fn the_bulk_read_and_the_ids_page_through_the_table() {
        let page = |ids: &[&str], last: Option<&str>| {
            let mut out = ScanOutput::builder();
            for id in ids {
                out = out.items([("id".to_string(), Av::S(id.to_string()))].into_iter().collect());
            }
            if let Some(l) = last {
                out = out.last_evaluated_key("id", Av::S(l.to_string()));
            }
            out.build()
        };
        let scan = mock!(Client::scan)
            .sequence()
            .output(move || page(&["111111111111", "222222222222"], Some("222222222222")))
            .output(move || page(&["333333333333"], None))
            .output(move || page(&["111111111111", "222222222222"], Some("222222222222")))
            .output(move || page(&["333333333333"], None))
            .build();
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&scan]);
        let table = MetadataTable::new(ddb, "aft-request-metadata");
        assert_eq!(table.all().await.unwrap().len(), 3);
        let ids: Vec<String> = table.ids().await.unwrap().into_iter().collect();
        assert_eq!(ids, ["111111111111", "222222222222", "333333333333"]);
        assert_eq!(scan.num_calls(), 4, "two pages each");
    }
}

mod iam {
    use std::time::Duration;

    use aws_sdk_iam::Client;
    use aws_sdk_iam::error::ErrorMetadata;
    use aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput;
    use aws_sdk_iam::operation::create_role::{CreateRoleError, CreateRoleOutput};
    use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::operation::update_assume_role_policy::UpdateAssumeRolePolicyOutput;
    use aws_sdk_iam::types::{AttachedPolicy, Role};
    use aws_smithy_types::DateTime;

    use super::*;

    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

    fn policy() -> serde_json::Value {
        execution_role::trust_policy("aws", "999999999999", "AWSAFTAdmin", "AWSAFT-Session")
    }

    fn role(doc: &str) -> GetRoleOutput {
        GetRoleOutput::builder()
            .role(
                Role::builder()
                    .path("/")
                    .role_name("AWSAFTExecution")
                    .role_id("AROA")
                    .arn("arn:aws:iam::111122223333:role/AWSAFTExecution")
                    .create_date(DateTime::from_secs(0))
                    .assume_role_policy_document(doc)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn attached(arns: &[&str]) -> ListAttachedRolePoliciesOutput {
        let mut out = ListAttachedRolePoliciesOutput::builder();
        for a in arns {
            out = out.attached_policies(AttachedPolicy::builder().policy_arn(*a).build());
        }
        out.build()
    }

    /// Rules for the writes, each counting its calls.
    fn writes() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let update = mock!(Client::update_assume_role_policy)
            .match_requests(|r| {
                r.policy_document().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) == Some(policy())
            })
            .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
        let create = mock!(Client::create_role).then_output(|| CreateRoleOutput::builder().build());
        let attach = mock!(Client::attach_role_policy)
            .match_requests(|r| r.policy_arn() == Some(ADMIN))
            .then_output(|| AttachRolePolicyOutput::builder().build());
        (update, create, attach)
    }

    #[tokio::test]
    async fn a_role_that_already_says_the_same_is_left_alone() {
        // IAM returns the document URL-encoded, its principals in another order
        let p = &policy()["Statement"][0]["Principal"]["AWS"];
        let reordered =
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": [p[1], p[0]]}}]})
            .to_string();
        let encoded: String = reordered
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        assert_eq!(existing(encoded, &[ADMIN]).await, ("unchanged", (0, 0, 0)));
    }

    /// `ensure_role` on an existing role with this trust document and these attached policies:
    /// what it did, and its (update, create, attach) calls.
    async fn existing(doc: String, policies: &'static [&'static str]) -> (&'static str, (usize, usize, usize)) {
        let get = mock!(Client::get_role).then_output(move || role(&doc));
        let list = mock!(Client::list_attached_role_policies).then_output(move || attached(policies));
        let (update, create, attach) = writes();
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &list, &update, &create, &attach]);
        let did = execution_role::ensure_role(&iam, "111122223333", "AWSAFTExecution", &policy(), ADMIN).await.unwrap();
        (did, (update.num_calls(), create.num_calls(), attach.num_calls()))
    }

    #[tokio::test]
    async fn a_trust_policy_edited_outside_is_repaired_and_the_policy_attached() {
        let foreign = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::444455556666:root"}}]}"#;
        assert_eq!(existing(foreign.to_string(), &[]).await, ("trust policy repaired", (1, 0, 1)));
    }

    #[tokio::test]
    async fn a_role_created_by_an_interrupted_run_is_repaired_not_failed() {
        let get = mock!(Client::get_role)
            .then_error(|| GetRoleError::generic(ErrorMetadata::builder().code("NoSuchEntity").build()));
        let create = mock!(Client::create_role)
            .then_error(|| CreateRoleError::generic(ErrorMetadata::builder().code("EntityAlreadyExists").build()));
        let list = mock!(Client::list_attached_role_policies).then_output(|| attached(&[ADMIN]));
        let (update, _, attach) = writes();
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &create, &list, &update, &attach]);
        let did = execution_role::ensure_role(&iam, "111122223333", "AWSAFTService", &policy(), ADMIN).await.unwrap();
        assert_eq!(did, "trust policy repaired");
        assert_eq!((create.num_calls(), update.num_calls()), (1, 1));
    }

    mod sts {
        use aws_sdk_sts::Client;
        use aws_sdk_sts::error::ErrorMetadata;
        use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};

        use super::*;

        fn denied() -> AssumeRoleError {
            AssumeRoleError::generic(ErrorMetadata::builder().code("AccessDenied").message("not authorized").build())
        }

        #[tokio::test]
        async fn a_new_role_is_retried_until_iam_has_propagated_it() {
            let assume = mock!(Client::assume_role)
                .match_requests(|r| r.role_session_name() == Some("AWSAFT-Session"))
                .sequence()
                .error(denied)
                .times(2)
                .output(|| AssumeRoleOutput::builder().build())
                .build();
            let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&assume], |c| c
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
            let arn = "arn:aws:iam::111122223333:role/AWSAFTExecution";
            execution_role::prove_assumable(&sts, arn, "AWSAFT-Session", Duration::from_secs(30)).await.unwrap();
            assert_eq!(assume.num_calls(), 3);
        }

        #[tokio::test]
        async fn a_role_never_assumable_fails_naming_the_timeout() {
            let assume = mock!(Client::assume_role).then_error(denied);
            let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&assume], |c| c
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
            let arn = "arn:aws:iam::111122223333:role/AWSAFTExecution";
            match execution_role::prove_assumable(&sts, arn, "AWSAFT-Session", Duration::from_millis(600)).await {
                Err(StepError::Failed(m)) => assert!(m.contains("iam_propagation_timeout") && m.contains(arn), "{m}"),
                other => panic!("expected a failure, got {other:?}"),
            }
            assert!(assume.num_calls() >= 2, "retried before giving up");
        }
    }
}

mod sfn {
    use std::sync::{Arc, Mutex};

    use aws_sdk_sfn::Client;
    use aws_sdk_sfn::error::ErrorMetadata;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::describe_state_machine::{DescribeStateMachineError, DescribeStateMachineOutput};
    use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
    use aws_smithy_types::DateTime;
    use terraform_provider_aft::aws::organizations::AccountInfo;
    use terraform_provider_aft::framework::account_info::Account;

    use terraform_provider_aft::framework::request::AccountRequest;

    use tokio::sync::Semaphore;

    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:999999999999:stateMachine:aft-account-provisioning-customizations";
    const RUN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    fn account() -> Account {
        Account {
            info: AccountInfo { id: "111122223333".into(), email: "a@example.com".into(), ..Default::default() },
            parent_id: "ou-ab12-cdefgh34".into(),
            parent_type: "ORGANIZATIONAL_UNIT".into(),
        }
    }

    /// Step 7 for the account, its run and no request, under a cap of one.
    async fn step(sfn: &Client) -> Result<terraform_provider_aft::framework::Done<()>, StepError> {
        customizations::execute(
            sfn,
            MACHINE,
            &Semaphore::new(1),
            &account(),
            &AccountRequest::default(),
            RUN,
            &common::fast_waits(),
        )
        .await
    }

    /// StartExecution's answer: our execution.
    fn started() -> StartExecutionOutput {
        StartExecutionOutput::builder().execution_arn("arn:ours").start_date(DateTime::from_secs(0)).build().unwrap()
    }

    fn machine() -> DescribeStateMachineOutput {
        DescribeStateMachineOutput::builder()
            .state_machine_arn(MACHINE)
            .name("aft-account-provisioning-customizations")
            .definition("{}")
            .role_arn("arn:aws:iam::999999999999:role/r")
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .creation_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    fn execution(status: ExecutionStatus, error: Option<&str>) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn("arn:x")
            .state_machine_arn(MACHINE)
            .status(status)
            .start_date(DateTime::from_secs(0))
            .set_error(error.map(str::to_string))
            .set_cause(error.map(|_| "a task failed".to_string()))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn without_the_state_machine_the_step_is_a_no_op() {
        let describe = mock!(Client::describe_state_machine).then_error(|| {
            DescribeStateMachineError::generic(ErrorMetadata::builder().code("StateMachineDoesNotExist").build())
        });
        let start = mock!(Client::start_execution).then_output(|| StartExecutionOutput::builder().build().unwrap());
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&describe, &start]);
        let done = step(&sfn).await.unwrap();
        assert!(done.skipped, "{}", done.detail);
        assert_eq!(start.num_calls(), 0);
    }

    #[tokio::test]
    async fn an_earlier_execution_still_running_is_waited_for_before_one_with_afts_payload_starts() {
        let describe = mock!(Client::describe_state_machine).then_output(machine);
        let list = mock!(Client::list_executions).then_output(|| {
            ListExecutionsOutput::builder()
                .executions(
                    ExecutionListItem::builder()
                        .execution_arn("arn:earlier")
                        .state_machine_arn(MACHINE)
                        .name("111122223333-earlier-run")
                        .status(ExecutionStatus::Running)
                        .start_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let input = Arc::new(Mutex::new(String::new()));
        let seen = input.clone();
        let start = mock!(Client::start_execution)
            .match_requests(move |r| {
                *seen.lock().unwrap() = r.input().unwrap_or_default().to_string();
                r.name() == Some(&format!("111122223333-{RUN}"))
            })
            .then_output(started);
        // the earlier one runs twice more, then ends; ours succeeds at once
        let executions = mock!(Client::describe_execution)
            .sequence()
            .output(|| execution(ExecutionStatus::Running, None))
            .times(2)
            .output(|| execution(ExecutionStatus::Aborted, None))
            .output(|| execution(ExecutionStatus::Succeeded, None))
            .build();
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&describe, &list, &start, &executions]);
        step(&sfn).await.unwrap();
        assert_eq!(start.num_calls(), 1, "one execution of ours, after the earlier one ended");
        assert_eq!(executions.num_calls(), 4);
        let payload: serde_json::Value = serde_json::from_str(&input.lock().unwrap()).unwrap();
        assert_eq!(payload["customization_request_id"], RUN);
        assert_eq!(payload["account_info"]["account"]["id"], "111122223333");
        assert_eq!(payload["account_provisioning"]["run_create_pipeline"], "true");
    }

    #[tokio::test]
    async fn a_failed_execution_fails_the_step_with_its_error_and_cause() {
        let describe = mock!(Client::describe_state_machine).then_output(machine);
        let list = mock!(Client::list_executions)
            .then_output(|| ListExecutionsOutput::builder().set_executions(Some(Vec::new())).build().unwrap());
        let start = mock!(Client::start_execution).then_output(started);
        let executions = mock!(Client::describe_execution)
            .then_output(|| execution(ExecutionStatus::Failed, Some("States.TaskFailed")));
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&describe, &list, &start, &executions]);
        match step(&sfn).await {
            Err(StepError::Failed(m)) => assert!(m.contains("States.TaskFailed") && m.contains("a task failed"), "{m}"),
            other => panic!("expected a failure, got {:?}", other.map(|d| d.detail)),
        }
    }
}

mod ec2 {
    //! The default-VPC step against a scripted EC2 behind the provider's own EC2 client
    //! (src/aws/ec2.rs): each [`Rule`] answers one action's EC2 Query request with EC2's XML (or
    //! its `<Response><Errors>` refusal) and counts its calls, so the tests see the requests as
    //! AWS would (form parameters, signed) and the client reads the answers as AWS sends them.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::retry::RetryConfig;
    use default_vpcs::RegionOutcome;
    use terraform_provider_aft::aws::ec2::Client;

    use super::*;

    /// One scripted answer: to `action` (and only to requests carrying every `must` parameter),
    /// HTTP `status` with `body`.
    #[derive(Clone)]
    struct Rule {
        action: &'static str,
        must: Vec<(String, String)>,
        status: u16,
        body: String,
        calls: Arc<AtomicUsize>,
    }

    impl Rule {
        /// `action` answers `<ActionResponse>{inner}</ActionResponse>`.
        fn ok(action: &'static str, inner: &str) -> Rule {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r-1</requestId>{inner}</{action}Response>"
            );
            Rule { action, must: Vec::new(), status: 200, body, calls: Arc::default() }
        }

        /// `action` done (`<return>true</return>`).
        fn done(action: &'static str) -> Rule {
            Rule::ok(action, "<return>true</return>")
        }

        /// `action` refused with EC2's error `code`.
        fn refused(action: &'static str, status: u16, code: &str) -> Rule {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>refused by the test</Message></Error></Errors><RequestID>r-2</RequestID></Response>"
            );
            Rule { action, must: Vec::new(), status, body, calls: Arc::default() }
        }

        /// Only for requests with the parameter `name` = `value`.
        fn with(mut self, name: &str, value: &str) -> Rule {
            self.must.push((name.into(), value.into()));
            self
        }

        fn num_calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    /// `<list><item><field>id</field></item>…</list>`.
    fn set(list: &str, field: &str, ids: &[&str]) -> String {
        let items: String = ids.iter().map(|id| format!("<item><{field}>{id}</{field}></item>")).collect();
        format!("<{list}>{items}</{list}>")
    }

    /// A form body's parameters.
    fn params(body: &[u8]) -> Vec<(String, String)> {
        let body = std::str::from_utf8(body).unwrap();
        let decode = common::percent_decode;
        body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
    }

    /// A session whose EC2 is the rules (the first that matches a request answers it; a request
    /// no rule matches is refused with `NoRuleMatched`, which fails the test where it happens).
    fn client(rules: impl IntoIterator<Item = Rule>) -> Client {
        let rules: Vec<Rule> = rules.into_iter().collect();
        let http = infallible_client_fn(move |req: http::Request<SdkBody>| {
            let p = params(req.body().bytes().unwrap());
            assert!(req.headers().contains_key("authorization"), "the request was not signed");
            assert!(p.contains(&("Version".into(), "2016-11-15".into())), "{p:?}");
            let action = p.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
            let rule = rules.iter().find(|r| r.action == action && r.must.iter().all(|m| p.contains(m)));
            let (status, body) = match rule {
                Some(r) => {
                    r.calls.fetch_add(1, Ordering::SeqCst);
                    (r.status, r.body.clone())
                }
                None => (
                    400,
                    format!(
                        "<Response><Errors><Error><Code>NoRuleMatched</Code><Message>{p:?}</Message></Error></Errors></Response>"
                    ),
                ),
            };
            http::Response::builder().status(status).body(SdkBody::from(body)).unwrap()
        });
        let cfg = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new("a", "b", None, None, "test")))
            .retry_config(RetryConfig::disabled())
            .http_client(http)
            .build();
        Client::new(&cfg)
    }

    /// DescribeNetworkInterfaces of `vpc`: interfaces of these kinds.
    fn enis(vpc: &'static str, kinds: &'static [&'static str]) -> Rule {
        let items: String = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| format!("<item><networkInterfaceId>eni-{i}</networkInterfaceId><vpcId>{vpc}</vpcId><interfaceType>{k}</interfaceType></item>"))
            .collect();
        Rule::ok("DescribeNetworkInterfaces", &format!("<networkInterfaceSet>{items}</networkInterfaceSet>"))
            .with("Filter.1.Name", "vpc-id")
            .with("Filter.1.Value.1", vpc)
    }

    /// A region with one default VPC, `vpc`, whose only blocker is one internet gateway: the
    /// rules that look (first) and the rules that change (second), and a client over both.
    fn region(vpc: &'static str, kinds: &'static [&'static str]) -> (Vec<Rule>, Vec<Rule>, Client) {
        let looks = vec![
            Rule::ok("DescribeVpcs", &set("vpcSet", "vpcId", &[vpc])),
            enis(vpc, kinds),
            Rule::ok("DescribeInternetGateways", &set("internetGatewaySet", "internetGatewayId", &["igw-1"])),
            Rule::ok("DescribeSubnets", &set("subnetSet", "subnetId", &["subnet-a"])),
            Rule::ok("DescribeRouteTables", "<routeTableSet/>"),
            Rule::ok("DescribeNetworkAcls", "<networkAclSet/>"),
            Rule::ok("DescribeSecurityGroups", "<securityGroupInfo/>"),
        ];
        let changes = vec![
            Rule::done("DetachInternetGateway"),
            Rule::done("DeleteInternetGateway"),
            Rule::done("DeleteSubnet"),
            Rule::done("DeleteRouteTable"),
            Rule::done("DeleteNetworkAcl"),
            Rule::done("DeleteSecurityGroup"),
            Rule::done("DeleteVpc").with("VpcId", vpc),
        ];
        let ec2 = client(looks.iter().chain(&changes).cloned());
        (looks, changes, ec2)
    }

    fn calls(rules: &[Rule]) -> Vec<usize> {
        rules.iter().map(Rule::num_calls).collect()
    }

    #[tokio::test]
    async fn a_default_vpc_goes_with_what_blocks_it_and_the_defaults_it_owns_stay() {
        let vpcs = Rule::ok("DescribeVpcs", &set("vpcSet", "vpcId", &["vpc-1"])).with("Filter.1.Name", "isDefault");
        let igws = Rule::ok("DescribeInternetGateways", &set("internetGatewaySet", "internetGatewayId", &["igw-1"]));
        let detach = Rule::done("DetachInternetGateway").with("InternetGatewayId", "igw-1").with("VpcId", "vpc-1");
        let del_igw = Rule::done("DeleteInternetGateway");
        let subnets = Rule::ok("DescribeSubnets", &set("subnetSet", "subnetId", &["subnet-a", "subnet-b"]));
        let del_subnet = Rule::done("DeleteSubnet");
        let rts = Rule::ok(
            "DescribeRouteTables",
            "<routeTableSet><item><routeTableId>rtb-main</routeTableId><associationSet><item><main>true</main></item></associationSet></item><item><routeTableId>rtb-extra</routeTableId><associationSet/></item></routeTableSet>",
        );
        let del_rt = Rule::done("DeleteRouteTable").with("RouteTableId", "rtb-extra");
        let acls = Rule::ok(
            "DescribeNetworkAcls",
            "<networkAclSet><item><networkAclId>acl-default</networkAclId><default>true</default></item><item><networkAclId>acl-extra</networkAclId><default>false</default></item></networkAclSet>",
        );
        let del_acl = Rule::done("DeleteNetworkAcl").with("NetworkAclId", "acl-extra");
        let sgs = Rule::ok(
            "DescribeSecurityGroups",
            "<securityGroupInfo><item><groupId>sg-default</groupId><groupName>default</groupName></item><item><groupId>sg-extra</groupId><groupName>web</groupName></item></securityGroupInfo>",
        );
        let del_sg = Rule::done("DeleteSecurityGroup").with("GroupId", "sg-extra");
        let del_vpc = Rule::done("DeleteVpc").with("VpcId", "vpc-1");
        let no_enis = enis("vpc-1", &[]);
        let ec2 = client(
            [
                &vpcs,
                &no_enis,
                &igws,
                &detach,
                &del_igw,
                &subnets,
                &del_subnet,
                &rts,
                &del_rt,
                &acls,
                &del_acl,
                &sgs,
                &del_sg,
                &del_vpc,
            ]
            .into_iter()
            .cloned(),
        );
        match default_vpcs::delete_in_region(&ec2).await.unwrap() {
            RegionOutcome::Done { deleted, kept } => assert_eq!((deleted, kept), (vec!["vpc-1".to_string()], vec![])),
            other => panic!("{other:?}"),
        }
        assert_eq!(no_enis.num_calls(), 1, "its network interfaces were looked at");
        // the main route table, the default ACL and the default group go with the VPC itself
        let counts = [detach.num_calls(), del_igw.num_calls(), del_subnet.num_calls(), del_rt.num_calls()];
        assert_eq!(counts, [1, 1, 2, 1]);
        assert_eq!([del_acl.num_calls(), del_sg.num_calls(), del_vpc.num_calls()], [1, 1, 1]);
    }

    #[tokio::test]
    async fn a_region_without_a_default_vpc_deletes_nothing() {
        let vpcs = Rule::ok("DescribeVpcs", "<vpcSet/>");
        let del_vpc = Rule::done("DeleteVpc");
        let ec2 = client([vpcs.clone(), del_vpc.clone()]);
        match default_vpcs::delete_in_region(&ec2).await.unwrap() {
            RegionOutcome::Done { deleted, kept } => assert!(deleted.is_empty() && kept.is_empty()),
            other => panic!("{other:?}"),
        }
        assert_eq!((vpcs.num_calls(), del_vpc.num_calls()), (1, 0));
    }

    /// The bug a user found: the step detached the internet gateway of a default VPC in use
    /// before it found out, cutting the workload off the internet.
    #[tokio::test]
    async fn a_default_vpc_with_network_interfaces_is_left_entirely_alone_with_a_warning() {
        let (looks, changes, ec2) = region("vpc-used", &["interface", "lambda"]);
        let done = default_vpcs::delete_in_regions("111122223333", vec![("eu-west-1".into(), ec2)]).await.unwrap();
        assert_eq!(calls(&changes), [0; 7], "no detach, no delete of anything");
        // nothing beyond the VPC and its interfaces was even looked at
        assert_eq!(calls(&looks), [1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(done.warnings.len(), 1, "{:?}", done.warnings);
        let w = &done.warnings[0];
        for part in ["vpc-used", "111122223333", "eu-west-1", "2 network interfaces (interface, lambda)"] {
            assert!(w.contains(part), "{part} not in {w}");
        }
        assert!(done.detail.contains("0 default VPCs deleted") && done.detail.contains("1 kept"), "{}", done.detail);
    }

    /// AFT 1.20.1 skips a region it cannot reach (and one that refuses the account at its first
    /// look); the other regions are still processed.
    #[tokio::test]
    async fn an_unreachable_region_is_skipped_with_a_warning_and_the_others_are_processed() {
        // a region not enabled for the account
        let refused = Rule::refused("DescribeVpcs", 401, "OptInRequired");
        let refused_delete = Rule::done("DeleteVpc");
        let opt_in = client([refused.clone(), refused_delete.clone()]);
        // an endpoint nothing listens on: the connection fails (retries off, for speed)
        let down = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("eu-south-2"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        let down = Client::new(&down);
        let (_, changes, reachable) = region("vpc-free", &[]);
        let regions = vec![("us-east-1".into(), reachable), ("ap-east-1".into(), opt_in), ("eu-south-2".into(), down)];
        let done = default_vpcs::delete_in_regions("111122223333", regions).await.unwrap();
        // the reachable region's VPC went, with its gateway
        assert_eq!(calls(&changes), [1, 1, 1, 0, 0, 0, 1]);
        assert_eq!((refused.num_calls(), refused_delete.num_calls()), (1, 0));
        assert_eq!(done.warnings.len(), 2, "{:?}", done.warnings);
        let (a, b) = (&done.warnings[0], &done.warnings[1]);
        assert!(a.contains("ap-east-1") && a.contains("OptInRequired") && a.contains("111122223333"), "{a}");
        assert!(b.contains("eu-south-2") && b.contains("DispatchFailure") && b.contains("111122223333"), "{b}");
        assert!(done.detail.starts_with("1 default VPCs deleted in 3 regions"), "{}", done.detail);
        assert!(done.detail.contains("2 regions skipped"), "{}", done.detail);
    }

    /// A refusal after the first look (here an SCP denying DeleteSubnet once the gateway is gone)
    /// is no unreachable region: it fails the step, naming the account, the region and the call.
    #[tokio::test]
    async fn a_refusal_during_the_deletion_fails_the_step_naming_account_region_and_call() {
        let (looks, _, _) = region("vpc-free", &[]);
        let denied = Rule::refused("DeleteSubnet", 403, "UnauthorizedOperation");
        let detach = Rule::done("DetachInternetGateway");
        let del_igw = Rule::done("DeleteInternetGateway");
        let del_vpc = Rule::done("DeleteVpc");
        let rules = [denied.clone(), detach, del_igw, del_vpc.clone()];
        let ec2 = client(looks.iter().cloned().chain(rules));
        let err = match default_vpcs::delete_in_regions("111122223333", vec![("eu-west-1".into(), ec2)]).await {
            Err(e) => e.to_string(),
            Ok(done) => panic!("a refused deletion was taken for an unreachable region: {:?}", done.warnings),
        };
        for part in ["ec2:DeleteSubnet", "111122223333", "eu-west-1", "UnauthorizedOperation"] {
            assert!(err.contains(part), "{part} not in {err}");
        }
        assert_eq!((denied.num_calls(), del_vpc.num_calls()), (1, 0));
    }

    /// EC2's throttling answer (`RequestLimitExceeded`, HTTP 503) is retried as the SDK retries it.
    #[tokio::test]
    async fn a_throttled_call_is_retried() {
        let throttled = Rule::refused("DescribeVpcs", 503, "RequestLimitExceeded");
        let http_calls = throttled.calls.clone();
        let mut ec2 = client([throttled]);
        // the same scripted EC2, with the session's standard retries (3 attempts)
        ec2 = Client::new(
            &ec2.session()
                .to_builder()
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
                .build(),
        );
        let err = ec2.describe_vpcs(&[]).await.unwrap_err();
        assert_eq!(http_calls.load(Ordering::SeqCst), 3, "{err:?}");
        let e = terraform_provider_aft::aws::AwsError::from_sdk("ec2:DescribeVpcs", err);
        assert_eq!(e.code, "RequestLimitExceeded");
    }
}

mod cloudtrail_trail {
    use aws_sdk_cloudtrail::Client;
    use aws_sdk_cloudtrail::error::ErrorMetadata;
    use aws_sdk_cloudtrail::operation::create_trail::CreateTrailError;
    use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::get_trail::{GetTrailError, GetTrailOutput};
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::operation::put_event_selectors::PutEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::start_logging::StartLoggingOutput;

    use super::*;

    const BUCKET: &str = "arn:aws:s3:::aws-aft-logs-222233334444-us-east-1";

    fn writes() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let put = mock!(Client::put_event_selectors)
            .match_requests(|r| r.advanced_event_selectors().len() == 2 && r.trail_name() == Some(cloudtrail::TRAIL))
            .then_output(|| PutEventSelectorsOutput::builder().build());
        let start = mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
        (put, start)
    }

    #[tokio::test]
    async fn a_lost_create_trail_answer_finds_the_trail_instead_of_failing() {
        let get = mock!(Client::get_trail)
            .sequence()
            .error(|| GetTrailError::generic(ErrorMetadata::builder().code("TrailNotFoundException").build()))
            .output(|| GetTrailOutput::builder().build())
            .build();
        let create = mock!(Client::create_trail)
            .match_requests(|r| {
                r.is_organization_trail() == Some(true)
                    && r.s3_bucket_name() == Some("aws-aft-logs-222233334444-us-east-1")
            })
            .then_error(|| CreateTrailError::generic(ErrorMetadata::builder().code("InternalFailure").build()));
        let selectors = mock!(Client::get_event_selectors).then_output(|| GetEventSelectorsOutput::builder().build());
        let status = mock!(Client::get_trail_status).then_output(|| GetTrailStatusOutput::builder().build());
        let (put, start) = writes();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&get, &create, &selectors, &status, &put, &start],
            |c| c.retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        );
        let did = cloudtrail::ensure_trail(&ct, BUCKET, None).await.unwrap();
        assert_eq!(did, "trail created, data-event selectors set, logging started");
        assert_eq!((create.num_calls(), get.num_calls()), (1, 2), "looked again instead of creating again");
    }

    #[tokio::test]
    async fn a_trail_in_place_is_left_alone() {
        let get = mock!(Client::get_trail).then_output(|| GetTrailOutput::builder().build());
        let selectors = mock!(Client::get_event_selectors).then_output(|| {
            GetEventSelectorsOutput::builder()
                .set_advanced_event_selectors(Some(cloudtrail::selectors(BUCKET).unwrap()))
                .build()
        });
        let status =
            mock!(Client::get_trail_status).then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
        let (put, start) = writes();
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&get, &selectors, &status, &put, &start]);
        assert_eq!(cloudtrail::ensure_trail(&ct, BUCKET, None).await.unwrap(), "organization trail already in place");
        assert_eq!((put.num_calls(), start.num_calls()), (0, 0));
    }
}

mod codepipeline {
    use aws_sdk_codepipeline::Client;
    use aws_sdk_codepipeline::error::ErrorMetadata;
    use aws_sdk_codepipeline::operation::create_pipeline::{CreatePipelineError, CreatePipelineOutput};
    use aws_sdk_codepipeline::operation::get_pipeline::{GetPipelineError, GetPipelineOutput};
    use aws_sdk_codepipeline::operation::update_pipeline::UpdatePipelineOutput;
    use aws_sdk_codepipeline::types::{ArtifactStore, ArtifactStoreType, EncryptionKey, PipelineMetadata};
    use pipeline::{Ensured, PipelineSpec, SourceKind};

    use super::*;

    const ARN: &str = "arn:aws:codepipeline:us-east-1:999999999999:111122223333-customizations-pipeline";

    fn spec() -> PipelineSpec {
        PipelineSpec {
            name: "111122223333-customizations-pipeline".into(),
            account_id: "111122223333".into(),
            role_arn: "arn:aws:iam::999999999999:role/aft-codepipeline-customizations-role".into(),
            artifact_bucket: "aft-customizations-pipeline-999999999999".into(),
            source: SourceKind::CodeCommit,
            global_repository: pipeline::DEFAULT_GLOBAL_REPOSITORY.into(),
            global_branch: "main".into(),
            account_repository: pipeline::DEFAULT_ACCOUNT_REPOSITORY.into(),
            account_branch: "main".into(),
            global_project: pipeline::DEFAULT_GLOBAL_PROJECT.into(),
            account_project: pipeline::DEFAULT_ACCOUNT_PROJECT.into(),
            encryption_key: None,
        }
    }

    fn found() -> GetPipelineOutput {
        GetPipelineOutput::builder().metadata(PipelineMetadata::builder().pipeline_arn(ARN).build()).build()
    }

    #[tokio::test]
    async fn a_new_pipeline_is_created_once_its_role_has_propagated() {
        let get = mock!(Client::get_pipeline)
            .sequence()
            .error(|| GetPipelineError::generic(ErrorMetadata::builder().code("PipelineNotFoundException").build()))
            .output(found)
            .build();
        let create = mock!(Client::create_pipeline)
            .match_requests(|r| {
                r.pipeline().is_some_and(|p| p.role_arn() == spec().role_arn && p.stages().len() == 3)
                    && r.tags().iter().any(|t| t.key() == "managed_by" && t.value() == "AFT")
            })
            .sequence()
            .error(|| {
                CreatePipelineError::generic(
                    ErrorMetadata::builder()
                        .code("InvalidStructureException")
                        .message("CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::999999999999:role/r")
                        .build(),
                )
            })
            .output(|| CreatePipelineOutput::builder().build())
            .build();
        let update = mock!(Client::update_pipeline).then_output(|| UpdatePipelineOutput::builder().build());
        let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&get, &create, &update]);
        let done = pipeline::ensure(&cp, &spec()).await.unwrap();
        assert_eq!((done.arn.as_str(), done.ensured), (ARN, Ensured::Created));
        assert_eq!((create.num_calls(), update.num_calls()), (2, 0), "retried once while the role propagated");
    }

    #[tokio::test]
    async fn an_existing_pipeline_is_updated_never_created_again() {
        let get = mock!(Client::get_pipeline).then_output(found);
        let create = mock!(Client::create_pipeline).then_output(|| CreatePipelineOutput::builder().build());
        let update = mock!(Client::update_pipeline)
            .match_requests(|r| r.pipeline().is_some_and(|p| p.name() == spec().name))
            .then_output(|| UpdatePipelineOutput::builder().build());
        let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&get, &create, &update]);
        let done = pipeline::ensure(&cp, &spec()).await.unwrap();
        assert_eq!(done.ensured, Ensured::Updated);
        assert_eq!((create.num_calls(), update.num_calls()), (0, 1));
    }

    /// An existing pipeline encrypted with AFT's key: what an update of `spec` writes.
    async fn update_of_keyed_pipeline(wanted: PipelineSpec) -> (pipeline::EnsuredPipeline, Option<EncryptionKey>) {
        let aft_key = pipeline::kms_key("arn:aws:kms:us-east-1:999999999999:alias/aft").unwrap();
        let mut existing = pipeline::declaration(&spec()).unwrap();
        existing.artifact_store = Some(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location("aft-customizations-pipeline-999999999999")
                .encryption_key(aft_key)
                .build()
                .unwrap(),
        );
        let get = mock!(Client::get_pipeline).then_output(move || {
            GetPipelineOutput::builder()
                .pipeline(existing.clone())
                .metadata(PipelineMetadata::builder().pipeline_arn(ARN).build())
                .build()
        });
        let written = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = written.clone();
        let update = mock!(Client::update_pipeline)
            .match_requests(move |r| {
                *seen.lock().unwrap() = r.pipeline().and_then(pipeline::encryption_key).cloned();
                true
            })
            .then_output(|| UpdatePipelineOutput::builder().build());
        let cp = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&get, &update]);
        let done = pipeline::ensure(&cp, &wanted).await.unwrap();
        assert_eq!(update.num_calls(), 1);
        let key = written.lock().unwrap().clone();
        (done, key)
    }

    #[tokio::test]
    async fn an_update_keeps_the_pipelines_encryption_key_unless_the_spec_names_another() {
        let aft_key = pipeline::kms_key("arn:aws:kms:us-east-1:999999999999:alias/aft").unwrap();
        let (done, written) = update_of_keyed_pipeline(spec()).await;
        assert_eq!(written.as_ref(), Some(&aft_key), "the declaration written keeps the key");
        assert_eq!(done.encryption_key, Some(aft_key));

        let other =
            pipeline::kms_key("arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let (done, written) =
            update_of_keyed_pipeline(PipelineSpec { encryption_key: Some(other.clone()), ..spec() }).await;
        assert_eq!(written.as_ref(), Some(&other), "a key the spec names replaces it");
        assert_eq!(done.encryption_key, Some(other));
    }
}

mod request_table {
    use aws_sdk_dynamodb::error::ErrorMetadata as DdbError;
    use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType, TableDescription};
    use aws_sdk_eventbridge::operation::describe_rule::{DescribeRuleError, DescribeRuleOutput};
    use aws_sdk_eventbridge::types::RuleState;
    use aws_sdk_lambda::error::ErrorMetadata as LambdaError;
    use aws_sdk_lambda::operation::list_event_source_mappings::{
        ListEventSourceMappingsError, ListEventSourceMappingsOutput,
    };
    use aws_sdk_lambda::types::EventSourceMappingConfiguration;
    use request_row::{Deployment, Listeners, Listening, RowMode};

    use super::*;

    const STREAM: &str = "arn:aws:dynamodb:us-east-1:999999999999:table/aft-request/stream/2026";

    fn table(stream: bool) -> DescribeTableOutput {
        let mut t = TableDescription::builder().table_name("aft-request");
        if stream {
            t = t
                .stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::NewAndOldImages)
                        .build()
                        .unwrap(),
                )
                .latest_stream_arn(STREAM);
        }
        DescribeTableOutput::builder().table(t.build()).build()
    }

    fn mappings(n: usize) -> ListEventSourceMappingsOutput {
        let mut out = ListEventSourceMappingsOutput::builder();
        for i in 0..n {
            out = out.event_source_mappings(
                EventSourceMappingConfiguration::builder()
                    .function_arn(format!("arn:aws:lambda:us-east-1:999999999999:function:aft-trigger-{i}"))
                    .state("Disabled")
                    .build(),
            );
        }
        out.build()
    }

    /// `Listening` over scripted answers; `rule` is the state of AFT's Control Tower event rule.
    async fn detect(
        table_answer: Result<DescribeTableOutput, &'static str>,
        lambda: Result<usize, &'static str>,
        rule: Option<RuleState>,
    ) -> Deployment {
        let describe = match table_answer {
            Ok(t) => aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::describe_table).then_output(move || t.clone()),
            Err(code) => aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::describe_table)
                .then_error(move || DescribeTableError::generic(DdbError::builder().code(code).build())),
        };
        let list = match lambda {
            Ok(n) => aws_smithy_mocks::mock!(aws_sdk_lambda::Client::list_event_source_mappings)
                .match_requests(|r| r.event_source_arn() == Some(STREAM))
                .then_output(move || mappings(n)),
            Err(code) => aws_smithy_mocks::mock!(aws_sdk_lambda::Client::list_event_source_mappings)
                .then_error(move || ListEventSourceMappingsError::generic(LambdaError::builder().code(code).build())),
        };
        let describe_rule = match rule {
            Some(state) => aws_smithy_mocks::mock!(aws_sdk_eventbridge::Client::describe_rule)
                .then_output(move || DescribeRuleOutput::builder().state(state.clone()).build()),
            None => aws_smithy_mocks::mock!(aws_sdk_eventbridge::Client::describe_rule).then_error(|| {
                DescribeRuleError::generic(
                    aws_sdk_eventbridge::error::ErrorMetadata::builder().code("ResourceNotFoundException").build(),
                )
            }),
        };
        let l = Listening {
            ddb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&describe]),
            lambda: mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&list], |c| c
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled())),
            events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&describe_rule]),
        };
        l.detect("aft-request".into()).await
    }

    #[tokio::test]
    async fn only_a_table_nothing_listens_to_gets_afts_full_row() {
        let quiet = detect(Ok(table(true)), Ok(0), Some(RuleState::Disabled)).await;
        assert!(matches!(&quiet, Deployment::Table { listeners: Listeners::Nothing, .. }), "{quiet:?}");
        assert!(quiet.quiet());
        let no_stream = detect(Ok(table(false)), Ok(0), None).await;
        assert!(no_stream.quiet(), "{no_stream:?}");
        let none = detect(Err("ResourceNotFoundException"), Ok(0), None).await;
        assert!(matches!(none, Deployment::NoTable { .. }));
    }

    #[tokio::test]
    async fn a_disabled_mapping_or_the_event_rule_counts_as_listening() {
        let mapped = detect(Ok(table(true)), Ok(1), None).await;
        assert!(
            matches!(&mapped, Deployment::Table { listeners: Listeners::Some(w), .. } if w[0].contains("Disabled")),
            "{mapped:?}"
        );
        assert!(!mapped.quiet());
        let rule = detect(Ok(table(true)), Ok(0), Some(RuleState::Enabled)).await;
        assert!(
            matches!(&rule, Deployment::Table { listeners: Listeners::Some(w), .. } if w[0].contains("EventBridge rule")),
            "{rule:?}"
        );
    }

    #[tokio::test]
    async fn afts_control_tower_event_rule_rules_out_inert_rows() {
        // no stream at all: the rule alone listens, and it acts on an inert row too
        let ruled = detect(Ok(table(false)), Ok(0), Some(RuleState::Enabled)).await;
        assert!(
            matches!(&ruled, Deployment::Table { event_rule: Listeners::Some(w), .. } if w[0].contains(request_row::CT_EVENT_RULE)),
            "{ruled:?}"
        );
        for mode in [RowMode::Auto, RowMode::Inert] {
            assert!(
                matches!(ruled.decide(mode), request_row::Decision::Skip(w) if w.contains(request_row::CT_EVENT_RULE)),
                "{mode:?}"
            );
            assert!(ruled.warning(mode).is_some_and(|w| w.contains("disable-rule")), "{mode:?}");
        }
        // the stream's trigger alone rejects an inert row: inert is written there
        let mapped = detect(Ok(table(true)), Ok(1), Some(RuleState::Disabled)).await;
        assert_eq!(mapped.decide(RowMode::Inert), request_row::Decision::Inert, "{mapped:?}");
    }

    #[tokio::test]
    async fn a_refused_look_is_unknown_and_never_quiet() {
        let refused = detect(Ok(table(true)), Err("AccessDeniedException"), None).await;
        assert!(matches!(&refused, Deployment::Table { listeners: Listeners::Unknown(_), .. }), "{refused:?}");
        assert!(!refused.quiet(), "a refused look must not allow writing or removing rows");
        assert_ne!(refused.decide(RowMode::Auto), request_row::Decision::Full);
        let throttled = detect(Err("ThrottlingException"), Ok(0), None).await;
        assert!(!throttled.quiet(), "{throttled:?}");
    }
}

mod create_account {

    use aws_sdk_organizations::Client;
    use aws_sdk_organizations::error::ErrorMetadata;
    use aws_sdk_organizations::operation::create_account::{CreateAccountError, CreateAccountOutput};
    use aws_sdk_organizations::operation::describe_account::DescribeAccountOutput;
    use aws_sdk_organizations::operation::describe_create_account_status::DescribeCreateAccountStatusOutput;
    use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
    use aws_sdk_organizations::operation::list_create_account_status::ListCreateAccountStatusOutput;
    use aws_sdk_organizations::operation::list_parents::ListParentsOutput;
    use aws_sdk_organizations::operation::move_account::MoveAccountOutput;
    use aws_sdk_organizations::types::{
        Account, AccountState, CreateAccountFailureReason, CreateAccountState, CreateAccountStatus, Parent, ParentType,
    };

    use terraform_provider_aft::framework::request::AccountRequest;

    use super::*;

    const OU: &str = "ou-ab12-cdefgh34";

    fn request() -> AccountRequest {
        AccountRequest {
            control_tower_parameters: map(&[("AccountEmail", "ours@example.com"), ("AccountName", "sandbox")]),
            ..Default::default()
        }
    }

    fn status(id: &str, state: CreateAccountState, account: Option<&str>) -> CreateAccountStatus {
        CreateAccountStatus::builder()
            .id(id)
            .account_name("sandbox")
            .state(state)
            .set_account_id(account.map(str::to_string))
            .build()
    }

    fn described(id: &str, email: &str) -> DescribeAccountOutput {
        DescribeAccountOutput::builder()
            .account(Account::builder().id(id).email(email).name("sandbox").state(AccountState::Active).build())
            .build()
    }

    /// Rules every creation uses: no account with our email yet, the account under the root
    /// until moved, the move.
    fn common() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let list = mock!(Client::list_accounts).then_output(|| ListAccountsOutput::builder().build());
        let parents = mock!(Client::list_parents).then_output(|| {
            ListParentsOutput::builder()
                .parents(Parent::builder().id("r-root").r#type(ParentType::Root).build())
                .build()
        });
        let moved = mock!(Client::move_account)
            .match_requests(|r| r.destination_parent_id() == Some(OU))
            .then_output(|| MoveAccountOutput::builder().build());
        (list, parents, moved)
    }

    /// Request `car-1` refused: an account already has the email.
    fn email_taken() -> CreateAccountStatus {
        CreateAccountStatus::builder()
            .id("car-1")
            .state(CreateAccountState::Failed)
            .failure_reason(CreateAccountFailureReason::EmailAlreadyExists)
            .build()
    }

    /// Nothing in flight; CreateAccount answers with request `car-1`, which ends as `end` says.
    fn created_then(
        end: fn() -> CreateAccountStatus,
    ) -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let in_flight =
            mock!(Client::list_create_account_status).then_output(|| ListCreateAccountStatusOutput::builder().build());
        let create = mock!(Client::create_account).then_output(|| {
            CreateAccountOutput::builder()
                .create_account_status(status("car-1", CreateAccountState::InProgress, None))
                .build()
        });
        let progress = mock!(Client::describe_create_account_status)
            .then_output(move || DescribeCreateAccountStatusOutput::builder().create_account_status(end()).build());
        (in_flight, create, progress)
    }

    /// Vends our request into OU through `org`.
    async fn vend_ours(org: &Client) -> Result<vend::Created, StepError> {
        let index = terraform_provider_aft::aws::organizations::AccountsByEmail::default();
        vend::create_with_organizations(org, &index, &request(), OU, "AWSControlTowerExecution", &common::fast_waits())
            .await
    }

    #[tokio::test]
    async fn a_lost_create_account_answer_is_found_in_flight_not_sent_again() {
        let (list, parents, moved) = common();
        // nothing in flight before the call; after the lost answer, ours is
        let in_flight = mock!(Client::list_create_account_status)
            .sequence()
            .output(|| ListCreateAccountStatusOutput::builder().build())
            .output(|| {
                ListCreateAccountStatusOutput::builder()
                    .create_account_statuses(status("car-1", CreateAccountState::InProgress, None))
                    .build()
            })
            .build();
        let create = mock!(Client::create_account)
            .then_error(|| CreateAccountError::generic(ErrorMetadata::builder().code("InternalFailure").build()));
        let progress = mock!(Client::describe_create_account_status)
            .match_requests(|r| r.create_account_request_id() == Some("car-1"))
            .sequence()
            .output(|| {
                DescribeCreateAccountStatusOutput::builder()
                    .create_account_status(status("car-1", CreateAccountState::InProgress, None))
                    .build()
            })
            .output(|| {
                DescribeCreateAccountStatusOutput::builder()
                    .create_account_status(status("car-1", CreateAccountState::Succeeded, Some("111122223333")))
                    .build()
            })
            .build();
        let describe = mock!(Client::describe_account).then_output(|| described("111122223333", "OURS@example.com"));
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&list, &parents, &moved, &in_flight, &create, &progress, &describe]
        );
        let made = vend_ours(&org).await.unwrap();
        assert_eq!(made, vend::Created { id: "111122223333".into(), adopted: false }, "its own creation");
        assert_eq!(create.num_calls(), 1, "CreateAccount is not idempotent: never sent twice");
        assert_eq!(moved.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_creation_in_flight_with_our_name_but_another_email_is_not_taken() {
        let (list, parents, moved) = common();
        let in_flight = mock!(Client::list_create_account_status).then_output(|| {
            ListCreateAccountStatusOutput::builder()
                .create_account_statuses(status("car-theirs", CreateAccountState::InProgress, None))
                .build()
        });
        let done = |request: &'static str, account: &'static str| {
            mock!(Client::describe_create_account_status)
                .match_requests(move |r| r.create_account_request_id() == Some(request))
                .then_output(move || {
                    DescribeCreateAccountStatusOutput::builder()
                        .create_account_status(status(request, CreateAccountState::Succeeded, Some(account)))
                        .build()
                })
        };
        let (theirs_done, ours_done) = (done("car-theirs", "999988887777"), done("car-ours", "111122223333"));
        let create = mock!(Client::create_account)
            .match_requests(|r| {
                r.email() == Some("ours@example.com") && r.role_name() == Some("AWSControlTowerExecution")
            })
            .then_output(|| {
                CreateAccountOutput::builder()
                    .create_account_status(status("car-ours", CreateAccountState::InProgress, None))
                    .build()
            });
        // the other request's account carries its own email; ours carries ours
        let account = |id: &'static str, email: &'static str| {
            mock!(Client::describe_account)
                .match_requests(move |r| r.account_id() == Some(id))
                .then_output(move || described(id, email))
        };
        let (theirs, ours) =
            (account("999988887777", "theirs@example.com"), account("111122223333", "ours@example.com"));
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&list, &parents, &moved, &in_flight, &create, &theirs_done, &ours_done, &theirs, &ours]
        );
        let made = vend_ours(&org).await.unwrap();
        assert_eq!(
            made,
            vend::Created { id: "111122223333".into(), adopted: false },
            "its own account, not the other request's"
        );
        assert_eq!((theirs_done.num_calls(), create.num_calls(), moved.num_calls()), (1, 1, 1));
    }

    #[tokio::test]
    async fn an_account_made_for_another_request_is_refused_not_shared() {
        let (list, parents, moved) = common();
        let (in_flight, create, progress) =
            created_then(|| status("car-1", CreateAccountState::Succeeded, Some("999988887777")));
        let describe = mock!(Client::describe_account).then_output(|| described("999988887777", "theirs@example.com"));
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&list, &parents, &moved, &in_flight, &create, &progress, &describe]
        );
        match vend_ours(&org).await {
            Err(StepError::Failed(m)) => assert!(m.contains("belongs to another request"), "{m}"),
            other => panic!("an account of another request was taken: {other:?}"),
        }
        assert_eq!(moved.num_calls(), 0, "nobody's account was moved");
    }

    /// Organizations refuses a CreateAccount for an email an account has (another principal made
    /// it after the process listed the organization): the account is looked for in a new
    /// listing and adopted, recorded as another's (`adopted`), and not moved here (the caller
    /// moves an adopted account).
    #[tokio::test]
    async fn an_email_taken_after_the_listing_is_adopted_as_anothers_account() {
        let (_, parents, moved) = common();
        // the first listing (before CreateAccount) does not have it; the one after the refusal does
        let list = mock!(Client::list_accounts)
            .sequence()
            .output(|| ListAccountsOutput::builder().build())
            .output(|| {
                ListAccountsOutput::builder()
                    .accounts(
                        Account::builder()
                            .id("444455556666")
                            .email("Ours@Example.com")
                            .name("made-elsewhere")
                            .state(AccountState::Active)
                            .build(),
                    )
                    .build()
            })
            .build();
        let (in_flight, create, progress) = created_then(email_taken);
        let describe = mock!(Client::describe_account)
            .match_requests(|r| r.account_id() == Some("444455556666"))
            .then_output(|| described("444455556666", "Ours@Example.com"));
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&list, &parents, &moved, &in_flight, &create, &progress, &describe]
        );
        let got = vend_ours(&org).await.unwrap();
        assert_eq!(got, vend::Created { id: "444455556666".into(), adopted: true });
        assert_eq!((create.num_calls(), list.num_calls(), moved.num_calls()), (1, 2, 0));
    }

    #[tokio::test]
    async fn a_failed_creation_names_its_reason() {
        let (list, parents, moved) = common();
        let (in_flight, create, progress) = created_then(email_taken);
        let org = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&list, &parents, &moved, &in_flight, &create, &progress]
        );
        match vend_ours(&org).await {
            Err(StepError::Failed(m)) => {
                assert!(m.contains("EMAIL_ALREADY_EXISTS") && m.contains("ours@example.com"), "{m}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(moved.num_calls(), 0);
    }
}

mod service_catalog {

    use account_factory::ProductStatus;
    use aws_sdk_servicecatalog::Client;
    use aws_sdk_servicecatalog::operation::describe_record::DescribeRecordOutput;
    use aws_sdk_servicecatalog::operation::search_provisioned_products::SearchProvisionedProductsOutput;
    use aws_sdk_servicecatalog::types::{
        ProvisionedProductAttribute, ProvisionedProductStatus, RecordDetail, RecordError, RecordStatus,
    };

    use super::*;

    fn product(name: &str, status: ProvisionedProductStatus, account: &str) -> ProvisionedProductAttribute {
        ProvisionedProductAttribute::builder()
            .id(format!("pp-{name}"))
            .name(name)
            .status(status)
            .physical_id(account)
            .build()
    }

    fn record(status: RecordStatus, errors: &[&str]) -> DescribeRecordOutput {
        let mut d = RecordDetail::builder().record_id("rec-1").status(status);
        for e in errors {
            d = d.record_errors(RecordError::builder().description(*e).build());
        }
        DescribeRecordOutput::builder().record_detail(d.build()).build()
    }

    #[tokio::test]
    async fn a_record_in_error_fails_with_every_error_it_lists() {
        let describe = mock!(Client::describe_record)
            .sequence()
            .output(|| record(RecordStatus::InProgress, &[]))
            .times(2)
            .output(|| record(RecordStatus::InProgressInError, &["AccountEmail already used", "rolled back"]))
            .build();
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&describe]);
        match account_factory::wait_record(&sc, "rec-1", "ProvisionProduct of sandbox", &common::fast_waits()).await {
            Err(StepError::Failed(m)) => {
                assert!(m.contains("rec-1") && m.contains("AccountEmail already used; rolled back"), "{m}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(describe.num_calls(), 3);
    }

    #[tokio::test]
    async fn searches_see_every_principal_page_by_page_and_names_match_exactly() {
        let search = mock!(Client::search_provisioned_products)
            .match_requests(|r| r.access_level_filter().and_then(|f| f.value()) == Some("self"))
            .sequence()
            .output(|| {
                SearchProvisionedProductsOutput::builder()
                    .provisioned_products(product("sandbox-2", ProvisionedProductStatus::Available, "222222222222"))
                    .next_page_token("p2")
                    .build()
            })
            .output(|| {
                SearchProvisionedProductsOutput::builder()
                    .provisioned_products(product("sandbox", ProvisionedProductStatus::UnderChange, "111111111111"))
                    .build()
            })
            .build();
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&search]);
        let found = account_factory::find_by_name(&sc, "sandbox").await.unwrap().expect("found on the second page");
        assert_eq!((found.name.as_str(), &found.status), ("sandbox", &ProductStatus::UnderChange));
        assert_eq!(search.num_calls(), 2);
    }

    #[tokio::test]
    async fn the_product_of_an_account_prefers_a_healthy_one() {
        let search = mock!(Client::search_provisioned_products).then_output(|| {
            SearchProvisionedProductsOutput::builder()
                .provisioned_products(product("old", ProvisionedProductStatus::Error, "111111111111"))
                .provisioned_products(product("other", ProvisionedProductStatus::Available, "999999999999"))
                .provisioned_products(product("current", ProvisionedProductStatus::Available, "111111111111"))
                .build()
        });
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&search]);
        let p = account_factory::find_by_account(&sc, "111111111111").await.unwrap().unwrap();
        assert_eq!(p.name, "current", "the healthy product of this account, not another account's");
    }

    /// A product in `ERROR`, with or without its account.
    fn failed(account: Option<&str>) -> account_factory::Product {
        account_factory::Product {
            id: "pp-sandbox".into(),
            name: "sandbox".into(),
            status: ProductStatus::Error,
            account_id: account.map(str::to_string),
            last_record_id: Some("rec-1".into()),
            last_success_record_id: None,
            product_id: None,
            artifact_id: None,
        }
    }

    /// `owner` over scripted answers: DescribeAccount gives `account_email`, the product's
    /// `AccountEmail` output is `output` (absent when `None`).
    async fn owner_of(
        p: &account_factory::Product,
        account_email: &'static str,
        output: Option<&'static str>,
    ) -> (account_factory::Owner, usize) {
        use aws_sdk_organizations::operation::describe_account::DescribeAccountOutput;
        use aws_sdk_organizations::types::{Account, AccountState};
        use aws_sdk_servicecatalog::operation::get_provisioned_product_outputs::GetProvisionedProductOutputsOutput;
        use aws_sdk_servicecatalog::types::RecordOutput;
        let describe = mock!(aws_sdk_organizations::Client::describe_account).then_output(move || {
            DescribeAccountOutput::builder()
                .account(Account::builder().id("111122223333").email(account_email).state(AccountState::Active).build())
                .build()
        });
        let outputs = mock!(Client::get_provisioned_product_outputs)
            .match_requests(|r| r.provisioned_product_id() == Some("pp-sandbox") && r.output_keys() == ["AccountEmail"])
            .then_output(move || {
                let mut out = GetProvisionedProductOutputsOutput::builder();
                if let Some(v) = output {
                    out = out.outputs(RecordOutput::builder().output_key("AccountEmail").output_value(v).build());
                }
                out.build()
            });
        let org = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&describe]);
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&outputs]);
        let owner = account_factory::owner(&org, &sc, p, "ours@example.com").await.unwrap();
        (owner, outputs.num_calls())
    }

    #[tokio::test]
    async fn a_failed_product_is_the_requests_only_when_its_account_or_output_has_the_requests_email() {
        use account_factory::Owner;
        let with_account = failed(Some("111122223333"));
        // the account's email decides (ignoring case), before any output is read
        assert_eq!(owner_of(&with_account, "OURS@example.com", None).await, (Owner::This, 0));
        match owner_of(&with_account, "theirs@example.com", Some("ours@example.com")).await {
            (Owner::Other { email, source }, 0) => {
                assert_eq!(email, "theirs@example.com");
                assert!(source.contains("111122223333"), "{source}");
            }
            other => panic!("another request's account was taken for ours: {other:?}"),
        }
        // no account yet: the AccountEmail output decides
        let without = failed(None);
        assert_eq!(owner_of(&without, "unused@example.com", Some("Ours@Example.com")).await, (Owner::This, 1));
        match owner_of(&without, "unused@example.com", Some("theirs@example.com")).await {
            (Owner::Other { email, .. }, 1) => assert_eq!(email, "theirs@example.com"),
            other => panic!("another request's product was taken for ours: {other:?}"),
        }
        // and nothing at all is not ownership
        assert_eq!(owner_of(&without, "unused@example.com", None).await, (Owner::Unknown, 1));
        assert_eq!(owner_of(&without, "unused@example.com", Some("")).await, (Owner::Unknown, 1));
    }
}

mod control_tower_api {
    use account_factory::{Baselines, CT_BASELINE, InFlight};
    use aws_sdk_controltower::Client;
    use aws_sdk_controltower::error::ErrorMetadata;
    use aws_sdk_controltower::operation::list_baselines::{ListBaselinesError, ListBaselinesOutput};
    use aws_sdk_controltower::operation::list_enabled_baselines::{
        ListEnabledBaselinesError, ListEnabledBaselinesOutput,
    };
    use aws_sdk_controltower::types::{
        BaselineSummary, EnabledBaselineSummary, EnablementStatus, EnablementStatusSummary,
    };
    use aws_sdk_servicecatalog::operation::search_provisioned_products::SearchProvisionedProductsOutput;
    use aws_sdk_servicecatalog::types::{ProvisionedProductAttribute, ProvisionedProductStatus};

    use super::*;

    const ARN: &str = "arn:aws:controltower:us-east-1::baseline/17BSJV3IGJ2QSGA2";

    fn baseline(name: &str, arn: &str) -> BaselineSummary {
        BaselineSummary::builder().name(name).arn(arn).build().unwrap()
    }

    fn enabled(target: &str, status: EnablementStatus) -> EnabledBaselineSummary {
        EnabledBaselineSummary::builder()
            .arn(format!("arn:aws:controltower:us-east-1:999999999999:enabledbaseline/{target}"))
            .baseline_identifier(ARN)
            .target_identifier(target)
            .status_summary(EnablementStatusSummary::builder().status(status).build())
            .build()
            .unwrap()
    }

    fn account(id: &str) -> String {
        format!("arn:aws:organizations::999999999999:account/o-abc/{id}")
    }

    /// AFT's calls: ListBaselines paged until `AWSControlTowerBaseline` (looked up once), then
    /// ListEnabledBaselines filtered on its ARN and on `UNDER_CHANGE`, paged to the end.
    #[tokio::test]
    async fn baselines_under_change_are_read_as_aft_reads_them() {
        let list = mock!(Client::list_baselines)
            .sequence()
            .output(|| {
                ListBaselinesOutput::builder()
                    .baselines(baseline("AuditBaseline", "arn:aws:controltower:us-east-1::baseline/A"))
                    .next_token("p2")
                    .build()
                    .unwrap()
            })
            .output(|| ListBaselinesOutput::builder().baselines(baseline(CT_BASELINE, ARN)).build().unwrap())
            .build();
        let enabled_pages = mock!(Client::list_enabled_baselines)
            .match_requests(|r| {
                r.filter().is_some_and(|f| {
                    f.baseline_identifiers() == [ARN] && f.statuses() == [EnablementStatus::UnderChange]
                })
            })
            .sequence()
            .output(|| {
                ListEnabledBaselinesOutput::builder()
                    .enabled_baselines(enabled(&account("111111111111"), EnablementStatus::UnderChange))
                    .next_token("e2")
                    .build()
                    .unwrap()
            })
            .output(|| {
                ListEnabledBaselinesOutput::builder()
                    .enabled_baselines(enabled(
                        "arn:aws:organizations::999999999999:ou/o-abc/ou-ab12-cdef3456",
                        EnablementStatus::UnderChange,
                    ))
                    // an answer that ignored the filter is filtered again
                    .enabled_baselines(enabled(&account("222222222222"), EnablementStatus::Succeeded))
                    .build()
                    .unwrap()
            })
            .repeatedly()
            .build();
        let ct = mock_client!(aws_sdk_controltower, RuleMode::MatchAny, [&list, &enabled_pages]);
        let memo = Baselines::default();
        let first = account_factory::baselines_under_change(&ct, &memo).await.unwrap().expect("the API answered");
        assert_eq!(
            first,
            vec![account("111111111111"), "arn:aws:organizations::999999999999:ou/o-abc/ou-ab12-cdef3456".to_string()]
        );
        assert_eq!(list.num_calls(), 2);
        assert_eq!(enabled_pages.num_calls(), 2);
        // the ARN is looked up once per provider process; the baselines are read at every count
        account_factory::baselines_under_change(&ct, &memo).await.unwrap();
        assert_eq!((list.num_calls(), enabled_pages.num_calls()), (2, 3));
    }

    /// Where Control Tower refuses (no permission, no landing zone with the baseline), products
    /// alone are counted, and the refusal is not asked again.
    #[tokio::test]
    async fn a_refused_control_tower_api_counts_products_only() {
        let denied = mock!(Client::list_baselines).then_error(|| {
            ListBaselinesError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform: controltower:ListBaselines")
                    .build(),
            )
        });
        let enabled_pages = mock!(Client::list_enabled_baselines)
            .then_output(|| ListEnabledBaselinesOutput::builder().build().unwrap());
        let ct = mock_client!(aws_sdk_controltower, RuleMode::MatchAny, [&denied, &enabled_pages]);
        let search = mock!(aws_sdk_servicecatalog::Client::search_provisioned_products).then_output(|| {
            SearchProvisionedProductsOutput::builder()
                .provisioned_products(
                    ProvisionedProductAttribute::builder()
                        .id("pp-1")
                        .name("sandbox")
                        .status(ProvisionedProductStatus::UnderChange)
                        .physical_id("111111111111")
                        .build(),
                )
                .build()
        });
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&search]);
        let memo = Baselines::default();
        for _ in 0..2 {
            let now = account_factory::in_flight_with(&sc, &ct, &memo).await.unwrap();
            assert_eq!(
                now,
                InFlight {
                    products: vec!["sandbox".into()],
                    product_accounts: vec!["111111111111".into()],
                    baselines: None,
                    unread: false
                }
            );
            assert_eq!(now.count(), 1);
        }
        assert_eq!((denied.num_calls(), enabled_pages.num_calls()), (1, 0), "the refusal is remembered");
    }

    /// A count whose ListEnabledBaselines failed past the retries (throttled) is incomplete, not
    /// a count of products alone (which admitted operations over the cap when foreign baselines
    /// were in flight); only after three failed counts in a row does the process count products
    /// only, and it stops asking.
    #[tokio::test]
    async fn a_throttled_count_is_incomplete_and_three_in_a_row_count_products_only() {
        let throttled = || {
            ListEnabledBaselinesError::generic(
                ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
            )
        };
        let list = mock!(Client::list_baselines)
            .then_output(|| ListBaselinesOutput::builder().baselines(baseline(CT_BASELINE, ARN)).build().unwrap());
        let foreign = account("333333333333");
        let enabled_pages = mock!(Client::list_enabled_baselines)
            .sequence()
            .error(throttled)
            .output(move || {
                ListEnabledBaselinesOutput::builder()
                    .enabled_baselines(enabled(&foreign, EnablementStatus::UnderChange))
                    .build()
                    .unwrap()
            })
            .error(throttled)
            .times(3)
            .output(|| ListEnabledBaselinesOutput::builder().build().unwrap())
            .build();
        let ct = mock_client!(aws_sdk_controltower, RuleMode::MatchAny, [&list, &enabled_pages], |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
        let search = mock!(aws_sdk_servicecatalog::Client::search_provisioned_products)
            .then_output(|| SearchProvisionedProductsOutput::builder().build());
        let sc = mock_client!(aws_sdk_servicecatalog, RuleMode::MatchAny, [&search]);
        let memo = Baselines::default();
        let mut counts = Vec::new();
        for _ in 0..6 {
            let now = account_factory::in_flight_with(&sc, &ct, &memo).await.unwrap();
            counts.push((now.unread, now.baselines.clone(), now.count()));
        }
        let unread = (true, None, 0);
        assert_eq!(
            counts,
            vec![
                unread.clone(),
                (false, Some(vec![account("333333333333")]), 1),
                unread.clone(),
                unread,
                (false, None, 0),
                (false, None, 0),
            ],
            "a failed read is incomplete; a good one resets the run; the third failure in a row is products only"
        );
        assert_eq!(enabled_pages.num_calls(), 5, "no more reads once the process counts products only");
        assert_eq!(list.num_calls(), 1, "the baseline's ARN is looked up once");
    }
}
