//! DynamoDB reads shared by every table this provider reads whole (AFT's metadata and request
//! tables).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{AwsError, AwsResultExt};

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
