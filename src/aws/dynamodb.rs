//! DynamoDB reads shared by every table this provider reads whole (AFT's metadata and request
//! tables).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{AwsError, AwsResultExt};

/// The string attribute `k` of an item, empty when absent.
pub fn string(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// The string map attribute `k` of an item: a map of strings, or a JSON object in a string (as
/// AFT's `aft-request` table stores tags and custom fields); empty when absent.
pub fn string_map(item: &HashMap<String, AttributeValue>, k: &str) -> BTreeMap<String, String> {
    match item.get(k) {
        Some(AttributeValue::M(m)) => {
            m.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone()))).collect()
        }
        Some(AttributeValue::S(json)) => serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json)
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

/// Every item of `table` (paged, consistent `Scan`).
pub async fn scan_all(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
    scan(ddb, table, None).await
}

/// Every item of `table`, only the attributes `projection` names when it is given. Every scan
/// is consistent (`ConsistentRead`), as every `GetItem` is: an eventually consistent scan may
/// miss an item written just before, and a missing item reads as an account AFT does not manage.
pub async fn scan(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    projection: Option<&str>,
) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ddb
        .scan()
        .table_name(table)
        .set_projection_expression(projection.map(str::to_string))
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        out.extend(page.aws("dynamodb:Scan")?.items().iter().cloned());
    }
    Ok(out)
}
