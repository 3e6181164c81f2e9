//! A client of the EC2 Query operations the provider calls (the default-VPC step), instead of
//! `aws-sdk-ec2`: that crate generates all ~600 EC2 operations and took 28% of a fresh build's
//! CPU, on its critical path, for 15 of them (docs/benchmarks.md).
//!
//! It is an SDK client in every respect that matters, built from the SDK's own parts: the
//! session's HTTP client, credentials and identity cache, SigV4 (`aws-runtime`), the standard
//! retry strategy with the session's retry and timeout settings, and the SDK's retry classifiers
//! (HTTP 500/502/503/504, transport failures and timeouts, and the throttling and transient error
//! codes, EC2's `RequestLimitExceeded` among them). Its errors are `SdkError`s whose metadata
//! carries EC2's `Code` and `Message`, so `.aws("ec2:…")` maps them as it maps every other
//! service's. What it adds is only the protocol: the request is AWS's EC2 Query form (`Action`,
//! `Version=2016-11-15`, `Filter.N.Name`/`Filter.N.Value.M`), the answer its XML, read into a
//! small tree ([`Element`]) and from that into the typed results below.
//!
//! The endpoint is found as the SDK finds it: the session's `endpoint_url` set in code, else
//! `AWS_ENDPOINT_URL_EC2` or the profile's EC2 `endpoint_url`, else the general `endpoint_url`,
//! else `https://ec2[-fips].<region>.<partition's domain>` (its dual-stack domain with
//! `use_dual_stack`), as the SDK resolves it for the partitions `aws`, `aws-cn`, `aws-us-gov`, `aws-iso` and `aws-iso-b`.

use std::borrow::Cow;
use std::fmt;

use aws_config::SdkConfig;
use aws_runtime::auth::SigV4OperationSigningConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{HttpStatusCodeClassifier, TransientErrorClassifier};
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::{
    AuthSchemeOptionResolverParams, SharedAuthScheme, SharedAuthSchemeOptionResolver,
};
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::StaticRuntimePlugin;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::Layer;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SigningName;
use aws_types::region::SigningRegion;
use aws_types::service_config::ServiceConfigKey;

/// The EC2 API version every request names.
pub const VERSION: &str = "2016-11-15";

/// An error EC2 answered (its `Code` and `Message`), or an answer that could not be read.
#[derive(Debug)]
pub struct Ec2Error {
    meta: ErrorMetadata,
}

impl Ec2Error {
    fn unreadable(what: String) -> Ec2Error {
        Ec2Error { meta: ErrorMetadata::builder().message(what).build() }
    }
}

impl fmt::Display for Ec2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.meta.code(), self.meta.message()) {
            (Some(c), Some(m)) => write!(f, "{c}: {m}"),
            (Some(c), None) => f.write_str(c),
            (None, Some(m)) => f.write_str(m),
            (None, None) => f.write_str("unhandled EC2 error"),
        }
    }
}

impl std::error::Error for Ec2Error {}

impl ProvideErrorMetadata for Ec2Error {
    fn meta(&self) -> &ErrorMetadata {
        &self.meta
    }
}

/// What a call returns: the answer's XML, or the SDK's error.
pub type Ec2Result<T> = Result<T, SdkError<Ec2Error, HttpResponse>>;

/// One element of an answer: its local name, its text (for a leaf) and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The `<item>`s of the list `name` (EC2's lists are `<name><item>…</item>…</name>`).
    pub fn items<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Element> + 'a {
        self.child(name).into_iter().flat_map(|l| l.children.iter().filter(|c| c.name == "item"))
    }
}

/// Reads an XML document into its root [`Element`]. Only what EC2's answers use: elements, text
/// and the predefined and numeric entities; attributes, comments and declarations are skipped.
pub fn parse(xml: &str) -> Result<Element, String> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<Element> = Vec::new();
    for token in Tokenizer::from(xml) {
        match token.map_err(|e| format!("unreadable XML: {e}"))? {
            Token::ElementStart { local, .. } => {
                stack.push(Element { name: local.as_str().to_string(), ..Element::default() });
            }
            Token::ElementEnd { end: ElementEnd::Open, .. } => {}
            Token::ElementEnd { end: ElementEnd::Close(..) | ElementEnd::Empty, .. } => {
                let done = stack.pop().ok_or("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Token::Text { text } => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&unescape(text.as_str())?);
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    Err("the XML ended before its root element closed".into())
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and `&#N;`/`&#xN;` in a text.
fn unescape(s: &str) -> Result<Cow<'_, str>, String> {
    if !s.contains('&') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').ok_or_else(|| format!("unterminated entity in {s:?}"))? + at;
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => entity.strip_prefix('#').and_then(|d| d.parse().ok()),
                };
                code.and_then(char::from_u32).ok_or_else(|| format!("unknown entity &{entity}; in {s:?}"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// The body of an EC2 Query request: `Action`, `Version`, then the parameters, form-encoded.
pub fn form(action: &str, params: &[(String, String)]) -> String {
    let enc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    let mut body = format!("Action={}&Version={VERSION}", enc(action));
    for (k, v) in params {
        body.push('&');
        body.push_str(&enc(k));
        body.push('=');
        body.push_str(&enc(v));
    }
    body
}

/// `Filter.N.Name` / `Filter.N.Value.1` for each (name, value).
pub fn filters(filters: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(filters.len() * 2);
    for (i, (name, value)) in filters.iter().enumerate() {
        out.push((format!("Filter.{}.Name", i + 1), name.to_string()));
        out.push((format!("Filter.{}.Value.1", i + 1), value.to_string()));
    }
    out
}

/// Reads an answer: its XML on success, else EC2's `<Response><Errors><Error>` as the error.
fn read(response: &HttpResponse) -> Result<Element, OrchestratorError<Ec2Error>> {
    let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    if response.status().is_success() {
        return parse(&body).map_err(|e| OrchestratorError::operation(Ec2Error::unreadable(e)));
    }
    let mut meta = ErrorMetadata::builder();
    if let Ok(doc) = parse(&body)
        && let Some(error) = doc.child("Errors").and_then(|e| e.child("Error"))
    {
        if let Some(code) = error.text_of("Code") {
            meta = meta.code(code);
        }
        if let Some(message) = error.text_of("Message") {
            meta = meta.message(message);
        }
    }
    Err(OrchestratorError::operation(Ec2Error { meta: meta.build() }))
}

/// The EC2 endpoint of `region` when the session names none (the SDK's rules for EC2): the
/// partition's domain, `ec2-fips` with FIPS, and the `api.aws` domains with dual-stack.
pub fn endpoint(region: &str, fips: bool, dual_stack: bool) -> String {
    let (domain, dual) = if region.starts_with("cn-") {
        ("amazonaws.com.cn", "api.amazonwebservices.com.cn")
    } else if region.starts_with("us-isob-") {
        ("sc2s.sgov.gov", "sc2s.sgov.gov")
    } else if region.starts_with("us-iso-") {
        ("c2s.ic.gov", "c2s.ic.gov")
    } else {
        ("amazonaws.com", "api.aws")
    };
    let host = if fips { "ec2-fips" } else { "ec2" };
    let domain = if dual_stack { dual } else { domain };
    format!("https://{host}.{region}.{domain}")
}

/// An EC2 client in one region, from a session.
#[derive(Clone, Debug)]
pub struct Client {
    config: SdkConfig,
    region: String,
    endpoint: String,
}

impl Client {
    /// EC2 in the session's region (`us-east-1` when it has none, as the SDK would fail to).
    pub fn new(config: &SdkConfig) -> Client {
        let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        // as the SDK: an endpoint set in code wins, then AWS_ENDPOINT_URL_EC2 / the profile's
        // `ec2 = endpoint_url`, then the general one, then EC2's regional endpoint
        let configured = if config.get_origin("endpoint_url").is_client_config() {
            None
        } else {
            config.service_config().and_then(|c| {
                let key = ServiceConfigKey::builder()
                    .service_id("EC2")
                    .env("AWS_ENDPOINT_URL")
                    .profile("endpoint_url")
                    .build()
                    .expect("every field is set");
                c.load_config(key)
            })
        };
        let endpoint = configured.or_else(|| config.endpoint_url().map(str::to_string)).unwrap_or_else(|| {
            endpoint(&region, config.use_fips().unwrap_or(false), config.use_dual_stack().unwrap_or(false))
        });
        Client { config: config.clone(), region, endpoint }
    }

    /// The session the client signs with.
    pub fn session(&self) -> &SdkConfig {
        &self.config
    }

    /// Calls `action` with `params`, and returns the answer's root element.
    pub async fn call(&self, action: &'static str, params: Vec<(String, String)>) -> Ec2Result<Element> {
        let c = &self.config;
        let mut components = RuntimeComponentsBuilder::new("ec2")
            .with_auth_scheme(SharedAuthScheme::new(SigV4AuthScheme::new()))
            .with_auth_scheme_option_resolver(Some(SharedAuthSchemeOptionResolver::new(
                StaticAuthSchemeOptionResolver::new(vec![SCHEME_ID]),
            )))
            .with_retry_classifier(TransientErrorClassifier::<Ec2Error>::new())
            .with_retry_classifier(AwsErrorCodeClassifier::<Ec2Error>::new())
            .with_retry_classifier(HttpStatusCodeClassifier::default());
        if let Some(credentials) = c.credentials_provider() {
            components.set_identity_resolver(SCHEME_ID, SharedIdentityResolver::new(credentials));
        }
        if let Some(cache) = c.identity_cache() {
            components.set_identity_cache(Some(cache));
        }
        let mut layer = Layer::new("ec2");
        layer.store_put(AuthSchemeOptionResolverParams::new(()));
        layer.store_put(SigV4OperationSigningConfig {
            region: Some(SigningRegion::from(aws_types::region::Region::new(self.region.clone()))),
            name: Some(SigningName::from_static("ec2")),
            ..Default::default()
        });
        let mut op = Operation::builder()
            .service_name("EC2")
            .operation_name(action)
            .endpoint_url(&self.endpoint)
            .standard_retry(&c.retry_config().cloned().unwrap_or_else(RetryConfig::standard))
            .timeout_config(c.timeout_config().cloned().unwrap_or_else(TimeoutConfig::disabled))
            .with_connection_poisoning()
            .runtime_plugin(StaticRuntimePlugin::new().with_config(layer.freeze()).with_runtime_components(components));
        if let Some(http) = c.http_client() {
            op = op.http_client(http);
        }
        if let Some(sleep) = c.sleep_impl() {
            op = op.sleep_impl(sleep);
        }
        if let Some(time) = c.time_source() {
            op = op.time_source(time);
        }
        let op = op
            .serializer(move |params: Vec<(String, String)>| {
                let request = http::Request::builder()
                    .method("POST")
                    .uri("/")
                    .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
                    .body(SdkBody::from(form(action, &params)))?;
                Ok(HttpRequest::try_from(request)?)
            })
            .deserializer(read)
            .build();
        op.invoke(params).await
    }

    /// `DescribeRegions`: the names of the regions enabled for the account.
    pub async fn describe_regions(&self) -> Ec2Result<Vec<String>> {
        self.list("DescribeRegions", &[], "regionInfo", |r| field(r, "regionName")).await
    }

    /// `action` with `filter`, and each `<item>` of the answer's list `set` that `read` can read
    /// (an item without its id is left out: nothing is ever done to an empty id).
    async fn list<T>(
        &self,
        action: &'static str,
        filter: &[(&str, &str)],
        set: &str,
        read: impl Fn(&Element) -> Option<T>,
    ) -> Ec2Result<Vec<T>> {
        Ok(self.call(action, filters(filter)).await?.items(set).filter_map(read).collect())
    }

    /// `DescribeVpcs` with `filter`: the VPCs' ids.
    pub async fn describe_vpcs(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<String>> {
        self.list("DescribeVpcs", filter, "vpcSet", |v| field(v, "vpcId")).await
    }

    /// `DescribeNetworkInterfaces` with `filter`: the first page.
    pub async fn describe_network_interfaces(&self, filter: &[(&str, &str)]) -> Ec2Result<Page<NetworkInterface>> {
        let out = self.call("DescribeNetworkInterfaces", filters(filter)).await?;
        let items = out
            .items("networkInterfaceSet")
            .map(|i| NetworkInterface {
                id: field(i, "networkInterfaceId").unwrap_or_default(),
                kind: field(i, "interfaceType"),
            })
            .collect();
        Ok(Page { items, next_token: out.text_of("nextToken").filter(|t| !t.is_empty()).map(str::to_string) })
    }

    /// `DescribeInternetGateways` with `filter`: the gateways' ids.
    pub async fn describe_internet_gateways(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<String>> {
        self.list("DescribeInternetGateways", filter, "internetGatewaySet", |g| field(g, "internetGatewayId")).await
    }

    /// `DescribeSubnets` with `filter`: the subnets' ids.
    pub async fn describe_subnets(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<String>> {
        self.list("DescribeSubnets", filter, "subnetSet", |n| field(n, "subnetId")).await
    }

    /// `DescribeRouteTables` with `filter`.
    pub async fn describe_route_tables(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<RouteTable>> {
        self.list("DescribeRouteTables", filter, "routeTableSet", |t| {
            let main = t.items("associationSet").any(|a| a.text_of("main") == Some("true"));
            Some(RouteTable { id: field(t, "routeTableId")?, main })
        })
        .await
    }

    /// `DescribeNetworkAcls` with `filter`.
    pub async fn describe_network_acls(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<NetworkAcl>> {
        self.list("DescribeNetworkAcls", filter, "networkAclSet", |a| {
            Some(NetworkAcl { id: field(a, "networkAclId")?, default: a.text_of("default") == Some("true") })
        })
        .await
    }

    /// `DescribeSecurityGroups` with `filter`.
    pub async fn describe_security_groups(&self, filter: &[(&str, &str)]) -> Ec2Result<Vec<SecurityGroup>> {
        self.list("DescribeSecurityGroups", filter, "securityGroupInfo", |g| {
            Some(SecurityGroup { id: field(g, "groupId")?, name: field(g, "groupName").unwrap_or_default() })
        })
        .await
    }

    /// An action whose answer is only `<return>true</return>`, with its parameters.
    pub async fn act(&self, action: &'static str, params: &[(&str, &str)]) -> Ec2Result<()> {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.call(action, params).await.map(|_| ())
    }
}

/// The text of `name` in `item`, if EC2 gave it.
fn field(item: &Element, name: &str) -> Option<String> {
    item.text_of(name).map(str::to_string)
}

/// One page of a list and the token of the next, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// A network interface: its id and `interfaceType` (`interface`, `lambda`, `nat_gateway`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkInterface {
    pub id: String,
    pub kind: Option<String>,
}

/// A route table, and whether it is its VPC's main one (which goes with the VPC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub main: bool,
}

/// A network ACL, and whether it is its VPC's default one (which goes with the VPC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkAcl {
    pub id: String,
    pub default: bool,
}

/// A security group: its id and name (`default` goes with the VPC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_into_its_tree() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRouteTablesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n  <requestId>r</requestId>\n  <routeTableSet>\n    <item><routeTableId>rtb-1</routeTableId><associationSet><item><main>true</main></item></associationSet></item>\n    <item><routeTableId>rtb-&amp;2</routeTableId><associationSet/></item>\n  </routeTableSet>\n</DescribeRouteTablesResponse>";
        let root = parse(xml).unwrap();
        assert_eq!(root.name, "DescribeRouteTablesResponse");
        let ids: Vec<_> = root.items("routeTableSet").filter_map(|t| t.text_of("routeTableId")).collect();
        assert_eq!(ids, ["rtb-1", "rtb-&2"]);
        let main: Vec<bool> = root
            .items("routeTableSet")
            .map(|t| t.items("associationSet").any(|a| a.text_of("main") == Some("true")))
            .collect();
        assert_eq!(main, [true, false]);
        assert!(parse("<a><b>").is_err());
        assert_eq!(unescape("x &lt;&#65;&#x42;&gt;").unwrap(), "x <AB>");
    }

    #[test]
    fn a_request_is_ec2_query_form() {
        let body = form("DescribeVpcs", &filters(&[("isDefault", "true"), ("tag:a b", "c/d")]));
        assert_eq!(
            body,
            "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=isDefault&Filter.1.Value.1=true&Filter.2.Name=tag%3Aa%20b&Filter.2.Value.1=c%2Fd"
        );
        assert_eq!(endpoint("eu-west-1", false, false), "https://ec2.eu-west-1.amazonaws.com");
        assert_eq!(endpoint("cn-north-1", false, false), "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint("us-gov-west-1", true, false), "https://ec2-fips.us-gov-west-1.amazonaws.com");
        assert_eq!(endpoint("eu-west-1", false, true), "https://ec2.eu-west-1.api.aws");
    }
}
