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
    let mut out = Vec::new();
    let mut pages = ddb.scan().table_name(table).consistent_read(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        out.extend(page.aws("dynamodb:Scan")?.items().iter().cloned());
    }
    Ok(out)
}
