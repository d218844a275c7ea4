//! `template.yaml` agrees with the code: the table's schema, the avatar bucket (private, encrypted),
//! the routes and their authorization, the functions' build settings, and least privilege — the
//! DynamoDB and S3 actions of each function's policy are exactly those its code calls (recorded while
//! driving every route).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use serde_norway::Value;
use wxauth::avatars::memory::MemoryAvatars;
use wxauth::clock::ManualClock;
use wxauth::config::ProfileOptions;
use wxauth::routes::{Function, ROUTES};
use wxauth::secret::Secret;
use wxauth::sessions::Sessions;
use wxauth::store::memory::MemoryStore;
use wxauth::store::schema;
use wxauth::wechat::{WechatClient, http_client};
use wxauth_local::simulator::Simulator;
use wxauth_tests::counting::{CountingAvatars, CountingStore};
use wxauth_tests::env::{APPID, SECRET, START};
use wxauth_tests::legacy::{self, LegacyUser};

/// The second mini program of the scenario.
const APP2: &str = "wx00000000000000b2";
use wxauth_tests::events::{self, Req, parts};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    &t["Resources"][name]
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("!{} {}", t.tag, text(&t.value)),
        other => format!("{other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

#[test]
fn the_table_is_the_one_the_code_uses() {
    let t = template();
    let table = resource(&t, "SessionTable");
    assert_eq!(text(&table["Type"]), "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    let want = schema::table_schema();
    assert_eq!(text(&p["BillingMode"]), "PAY_PER_REQUEST");
    let keys: Vec<(String, String)> = p["KeySchema"]
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
        .collect();
    assert_eq!(keys, vec![(want.hash_key.to_string(), "HASH".to_string())]);
    let attrs: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let want_attrs: BTreeSet<(String, String)> = want
        .attributes
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(attrs, want_attrs);
    let indexes: Vec<(String, String, String)> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GSIs")
        .iter()
        .map(|i| {
            let keys = i["KeySchema"].as_sequence().expect("keys");
            assert_eq!(keys.len(), 1, "hash key only");
            (
                text(&i["IndexName"]),
                text(&keys[0]["AttributeName"]),
                text(&i["Projection"]["ProjectionType"]),
            )
        })
        .collect();
    let want_indexes: Vec<(String, String, String)> = want
        .indexes
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(indexes, want_indexes);
    assert_eq!(
        text(&p["TimeToLiveSpecification"]["AttributeName"]),
        want.ttl_attribute
    );
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], Value::Bool(true));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Value::Bool(true)
    );
}

fn function_of(f: Function) -> &'static str {
    match f {
        Function::Login => "LoginFunction",
        Function::Userinfo => "UserinfoFunction",
        Function::Avatar => "AvatarFunction",
    }
}

#[test]
fn the_avatar_bucket_is_private_and_encrypted_and_only_the_avatar_function_reaches_it() {
    let t = template();
    let bucket = resource(&t, "AvatarBucket");
    assert_eq!(text(&bucket["Type"]), "AWS::S3::Bucket");
    let p = &bucket["Properties"];
    let block = &p["PublicAccessBlockConfiguration"];
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[key], Value::Bool(true), "{key}");
    }
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        text(&sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"]),
        "AES256"
    );
    assert_eq!(
        text(&p["OwnershipControls"]["Rules"][0]["ObjectOwnership"]),
        "BucketOwnerEnforced",
        "no ACLs at all"
    );
    assert!(
        p["VersioningConfiguration"].is_null(),
        "one object per account"
    );
    let avatar = &resource(&t, "AvatarFunction")["Properties"];
    let untagged = |v: &Value| text(v).trim_start_matches('!').to_string();
    assert_eq!(
        untagged(&avatar["Environment"]["Variables"]["AVATAR_BUCKET"]),
        "Ref AvatarBucket"
    );
    assert!(
        avatar["Environment"]["Variables"]["WX_SECRET_PARAMETER"].is_null(),
        "the avatar function has no app secret"
    );
    let mut s3_resources = BTreeSet::new();
    for st in avatar["Policies"][0]["Statement"]
        .as_sequence()
        .expect("statements")
    {
        if strings(&st["Action"]).iter().any(|a| a.starts_with("s3:")) {
            s3_resources.insert(untagged(&st["Resource"]));
        }
    }
    assert_eq!(
        s3_resources,
        BTreeSet::from([
            "Sub ${AvatarBucket.Arn}/avatars/*".to_string(),
            "GetAtt AvatarBucket.Arn".to_string()
        ])
    );
    for other in ["LoginFunction", "UserinfoFunction", "AuthorizerFunction"] {
        assert!(
            !granted(&t, other).iter().any(|a| a.starts_with("s3:")),
            "{other} reaches the bucket"
        );
    }
}

#[test]
fn routes_and_authorization_match_the_route_table() {
    let t = template();
    let mut declared = BTreeMap::new();
    for name in [
        "LoginFunction",
        "UserinfoFunction",
        "AvatarFunction",
        "AuthorizerFunction",
    ] {
        let events = &resource(&t, name)["Properties"]["Events"];
        let Some(events) = events.as_mapping() else {
            continue;
        };
        for (_, ev) in events {
            assert_eq!(text(&ev["Type"]), "HttpApi");
            let p = &ev["Properties"];
            let key = format!("{} {}", text(&p["Method"]), text(&p["Path"]));
            let public = p["Auth"]["Authorizer"].as_str() == Some("NONE");
            assert!(
                declared
                    .insert(key.clone(), (name.to_string(), !public))
                    .is_none(),
                "{key} twice"
            );
        }
    }
    let wanted: BTreeMap<String, (String, bool)> = ROUTES
        .iter()
        .filter(|r| r.served_in(wxauth::routes::AuthMode::Skey))
        .map(|r| {
            let authorized = r.auth != wxauth::routes::Auth::Public;
            (r.key(), (function_of(r.function).to_string(), authorized))
        })
        .collect();
    assert_eq!(
        declared, wanted,
        "template.yaml routes == wxauth::routes::ROUTES"
    );

    let api = &resource(&t, "HttpApi")["Properties"];
    let auth = &api["Auth"];
    assert_eq!(text(&auth["DefaultAuthorizer"]), "WxSkeyAuthorizer");
    let a = &auth["Authorizers"]["WxSkeyAuthorizer"];
    assert_eq!(text(&a["AuthorizerPayloadFormatVersion"]), "2.0");
    assert_eq!(a["EnableSimpleResponses"], Value::Bool(true));
    assert_eq!(a["EnableFunctionDefaultPermissions"], Value::Bool(true));
    assert_eq!(
        strings(&a["Identity"]["Headers"]),
        vec!["X-WX-Skey".to_string()]
    );
}

#[test]
fn functions_are_arm64_cargo_lambda_builds_of_the_right_binaries() {
    let t = template();
    for (name, bin) in [
        ("LoginFunction", "login"),
        ("UserinfoFunction", "userinfo"),
        ("AvatarFunction", "avatar"),
        ("AuthorizerFunction", "authorizer"),
    ] {
        let f = resource(&t, name);
        assert_eq!(
            text(&f["Metadata"]["BuildMethod"]),
            "rust-cargolambda",
            "{name}"
        );
        assert_eq!(
            text(&f["Metadata"]["BuildProperties"]["Binary"]),
            bin,
            "{name}"
        );
        let p = &f["Properties"];
        let global = &t["Globals"]["Function"];
        let get = |k: &str| {
            if p[k].is_null() {
                global[k].clone()
            } else {
                p[k].clone()
            }
        };
        assert_eq!(text(&get("Runtime")), "provided.al2023", "{name}");
        assert_eq!(text(&get("Handler")), "bootstrap", "{name}");
        assert_eq!(
            strings(&get("Architectures")),
            vec!["arm64".to_string()],
            "{name}"
        );
        assert_eq!(text(&get("CodeUri")), ".", "{name}");
    }
}

/// The IAM actions each store method needs.
fn actions_of(method: &str) -> &'static [&'static str] {
    match method {
        "create_session" | "create_account" | "merge_accounts" => {
            &["dynamodb:PutItem", "dynamodb:UpdateItem"]
        }
        "get_session" | "get_user" | "get_token" | "get_account" | "get_unionid" => {
            &["dynamodb:GetItem"]
        }
        "sessions_of" => &["dynamodb:Query"],
        "touch_session"
        | "move_session"
        | "count_in_window"
        | "block_user"
        | "block_account"
        | "save_profile"
        | "save_phone"
        | "claim_key_check"
        | "lease_token"
        | "put_token"
        | "release_token_lease" => &["dynamodb:UpdateItem"],
        "delete_session" => &["dynamodb:DeleteItem"],
        "delete_sessions_of" => &["dynamodb:Query", "dynamodb:DeleteItem"],
        other => panic!("unknown store method {other}: map it to its IAM actions"),
    }
}

/// The IAM actions each avatar store method needs (`s3:ListBucket`: S3 answers 404, not 403, for an
/// account without avatar only with it).
fn s3_actions_of(method: &str) -> &'static [&'static str] {
    match method {
        "put" => &["s3:PutObject"],
        "get" => &["s3:GetObject", "s3:ListBucket"],
        other => panic!("unknown avatar store method {other}: map it to its IAM actions"),
    }
}

/// The key prefixes (`dynamodb:LeadingKeys`) a store method's table requests touch (index queries
/// are keyed by openid: their statement has no such condition).
fn prefixes_of(method: &str) -> &'static [&'static str] {
    use wxauth::store::schema::{
        ACCOUNT_PREFIX, LIMIT_PREFIX, SESSION_PREFIX, TOKEN_PREFIX, UNIONID_PREFIX, USER_PREFIX,
    };
    match method {
        "create_session" => &[SESSION_PREFIX, USER_PREFIX, ACCOUNT_PREFIX, UNIONID_PREFIX],
        "create_account" | "merge_accounts" => &[USER_PREFIX, ACCOUNT_PREFIX, UNIONID_PREFIX],
        "get_session" | "touch_session" | "delete_session" | "delete_sessions_of"
        | "move_session" | "claim_key_check" => &[SESSION_PREFIX],
        "get_user" | "block_user" => &[USER_PREFIX],
        "get_account" | "save_profile" | "save_phone" | "block_account" => &[ACCOUNT_PREFIX],
        "get_unionid" => &[UNIONID_PREFIX],
        "count_in_window" => &[LIMIT_PREFIX],
        "get_token" | "lease_token" | "put_token" | "release_token_lease" => &[TOKEN_PREFIX],
        "sessions_of" => &[],
        other => panic!("unknown store method {other}: map it to its key prefixes"),
    }
}

/// The key prefixes a function's table statements allow (`dynamodb:LeadingKeys`, every statement on
/// the table itself must have one).
fn leading_keys(t: &Value, function: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in resource(t, function)["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            let on_table =
                text(&st["Resource"]).trim_start_matches('!') == "GetAtt SessionTable.Arn";
            if !on_table {
                continue;
            }
            let keys = &st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let keys = if keys.is_null() {
                Vec::new()
            } else {
                strings(keys)
            };
            assert!(
                !keys.is_empty(),
                "{function}: a table statement without LeadingKeys: {st:?}"
            );
            out.extend(
                keys.into_iter()
                    .map(|k| k.trim_end_matches('*').to_string()),
            );
        }
    }
    out
}

/// The DynamoDB, S3 and SSM actions a function's policies grant.
fn granted(t: &Value, function: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in resource(t, function)["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            // `!If [cond, statement, NoValue]` (optional KMS grant) is conditional: skip it.
            if st.as_mapping().is_none() {
                continue;
            }
            for a in strings(&st["Action"]) {
                if a.starts_with("dynamodb:") || a.starts_with("ssm:") || a.starts_with("s3:") {
                    out.insert(a);
                }
            }
        }
    }
    out
}

/// Issue 13 (1): each function's timeout is its handler's budget plus the margin to answer, so that a
/// request out of time answers its documented error before Lambda cuts it.
#[test]
fn function_timeouts_are_the_budgets_plus_the_answer_margin() {
    use wxauth::deadline::{ANSWER_MARGIN, AUTHORIZER_BUDGET, LOGIN_BUDGET, USERINFO_BUDGET};
    let t = template();
    for (function, budget) in [
        ("LoginFunction", LOGIN_BUDGET),
        ("UserinfoFunction", USERINFO_BUDGET),
        ("AuthorizerFunction", AUTHORIZER_BUDGET),
        ("AvatarFunction", wxauth::deadline::AVATAR_BUDGET),
    ] {
        let timeout = resource(&t, function)["Properties"]["Timeout"]
            .as_u64()
            .expect("Timeout");
        assert_eq!(
            std::time::Duration::from_secs(timeout),
            budget + ANSWER_MARGIN,
            "{function}"
        );
    }
    // The SDK's own operation timeout fits in the authorizer's budget.
    assert!(std::time::Duration::from_secs(3) < AUTHORIZER_BUDGET);
}

#[tokio::test]
async fn each_function_is_granted_exactly_the_actions_its_code_calls() {
    wxauth_tests::logs::install();
    let sim = Simulator::new(APPID, SECRET);
    // A second app, not bound to the Open Platform account yet.
    sim.add_app(APP2, SECRET, false);
    let url = sim.spawn().await.expect("sim");
    // A user and a session of the release before accounts, in the store file it wrote.
    let legacy = LegacyUser::new("oLegacyUser", None, "tiihtNczf5v6AKRyjwEUhQ==", START);
    // Another one, whose first request after the upgrade is an avatar upload.
    let legacy_uploader =
        LegacyUser::new("oLegacyUploader", None, "AAAAAAAAAAAAAAAAAAAAAA==", START);
    let file = std::env::temp_dir().join(format!(
        "wxauth-iam-{}.json",
        wxauth::crypto::random_id().expect("rng")
    ));
    std::fs::write(
        &file,
        legacy::data_file(&[&legacy, &legacy_uploader]).to_string(),
    )
    .expect("write");
    let inner: Arc<dyn wxauth::store::Store> =
        Arc::new(MemoryStore::open(&file).expect("legacy file"));
    let clock = Arc::new(ManualClock::new(START));
    let counting = |_: &str| Arc::new(CountingStore::new(inner.clone()));
    let (login_store, auth_store, acct_store, avatar_store) = (
        counting("login"),
        counting("authorizer"),
        counting("userinfo"),
        counting("avatar"),
    );
    let avatars = Arc::new(CountingAvatars::new(Arc::new(MemoryAvatars::new())));
    let sessions =
        |s: &Arc<CountingStore>| Sessions::new(s.clone(), clock.clone(), 7 * 86400, 2 * 86400);
    let wechat = |appid: &str| {
        WechatClient::new(
            http_client(Duration::from_secs(5)).expect("c"),
            &url,
            appid,
            Secret::new(SECRET),
        )
    };
    let build = |s: &Arc<CountingStore>| {
        wxauth_tests::env::functions(&sessions(s), vec![wechat(APPID), wechat(APP2)])
    };
    let login = build(&login_store).login;
    let authorizer = build(&auth_store).authorizer;
    let userinfo = build(&acct_store).userinfo;
    let avatar = wxauth::bootstrap::functions(
        &sessions(&avatar_store),
        vec![wechat(APPID), wechat(APP2)],
        avatars.clone(),
        &ProfileOptions::default(),
        &Default::default(),
    )
    .expect("two apps")
    .avatar;

    // Every route, happy and unhappy paths that reach different store calls.
    let mut skeys = Vec::new();
    let mut uid = String::new();
    for _ in 0..2 {
        let req = Req::new("POST", "/login")
            .json(&json!({"code": sim.mint_code("alice"), "appid": APPID}));
        let (status, body) = parts(login.handle(req.into_request()).await);
        assert_eq!(status, 200, "{body}");
        skeys.push(body["skey"].as_str().expect("skey").to_string());
        uid = body["uid"].as_str().expect("uid").to_string();
    }
    // alice in the second app, not bound yet (an account of her own, no unionid), then again once it
    // is bound: her unionid names the first app's account, and the accounts are linked.
    let login_in = |appid: &'static str| {
        let code = sim.mint_code_in(appid, "alice");
        let login = &login;
        async move {
            let req = Req::new("POST", "/login").json(&json!({"code": code, "appid": appid}));
            let (status, body) = parts(login.handle(req.into_request()).await);
            assert_eq!(status, 200, "{body}");
            body["uid"].as_str().expect("uid").to_string()
        }
    };
    clock.advance(60);
    let before = login_in(APP2).await;
    sim.add_app(APP2, SECRET, true);
    let after = login_in(APP2).await;
    assert_ne!(before, uid);
    assert_eq!(after, uid, "the older account survives");
    assert!(login_store.called().contains(&"merge_accounts"));
    let skey = skeys[0].clone();
    let ctx = authorizer
        .handle(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await
        .expect("ok")["context"]
        .clone();
    clock.advance(3600);
    authorizer
        .handle(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await
        .expect("ok");
    let openid = sim.openid_for("alice");
    let data = serde_json::to_value(sim.user_data(&openid).expect("data")).expect("json");
    let call = |req: Req| async {
        parts(
            userinfo
                .handle(req.authorized(ctx.clone()).into_request())
                .await,
        )
    };
    assert_eq!(
        call(Req::new("POST", "/userinfo").skey(&skey).json(&data))
            .await
            .0,
        200
    );
    sim.invalidate_session_key(&openid);
    let bad = json!({"encryptedData": data["encryptedData"], "iv": wxauth::crypto::base64_encode(&[0; 16])});
    assert_eq!(
        call(Req::new("POST", "/userinfo").skey(&skey).json(&bad))
            .await
            .0,
        401
    );
    assert_eq!(call(Req::new("GET", "/me").skey(&skey)).await.0, 200);
    assert_eq!(
        call(
            Req::new("PUT", "/profile")
                .skey(&skey)
                .json(&json!({"nickName": "A"}))
        )
        .await
        .0,
        200
    );
    let code = sim.mint_phone_code("13800138000");
    assert_eq!(
        call(
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(Req::new("POST", "/logout").skey(&skeys[1])).await.0,
        200
    );
    // The earlier release's user gets its account at its first request.
    let old = json!({"openid": legacy.openid, "session_id": legacy.sid});
    let (status, me) = parts(
        userinfo
            .handle(
                Req::new("GET", "/me")
                    .skey(&legacy.skey)
                    .authorized(old)
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{me}");
    assert!(acct_store.called().contains(&"create_account"));
    let (status, out) = parts(
        userinfo
            .handle(
                Req::new("POST", "/logout")
                    .skey(&legacy.skey)
                    .json(&json!({"account": true}))
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    // The avatar function: an upload, the image, a stale version, and the first request of an
    // earlier release's user.
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let form = wxauth_tests::uploads::avatar_form(&png);
    let (status, out) = parts(
        avatar
            .handle(
                Req::new("POST", "/avatar")
                    .skey(&skey)
                    .form(form.clone())
                    .authorized(ctx.clone())
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    let url = out["user"]["avatarUrl"].as_str().expect("url").to_string();
    let path = &url[url.find("/avatars/").expect("path")..];
    let image = avatar.handle(Req::new("GET", path).into_request()).await;
    assert_eq!(image.status(), 200);
    let stale = path.replace(".png", ".jpg");
    let missing = avatar.handle(Req::new("GET", &stale).into_request()).await;
    assert_eq!(missing.status(), 404);
    let (status, out) = parts(
        avatar
            .handle(
                Req::new("POST", "/avatar")
                    .skey(&legacy_uploader.skey)
                    .form(form)
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    assert!(avatar_store.called().contains(&"create_account"));

    let _ = std::fs::remove_file(&file);
    assert_eq!(
        call(
            Req::new("POST", "/logout")
                .skey(&skey)
                .json(&json!({"all": true}))
        )
        .await
        .0,
        200
    );

    let t = template();
    for (function, store) in [
        ("LoginFunction", &login_store),
        ("AuthorizerFunction", &auth_store),
        ("UserinfoFunction", &acct_store),
        ("AvatarFunction", &avatar_store),
    ] {
        let mut needed: BTreeSet<String> = store
            .called()
            .iter()
            .flat_map(|m| actions_of(m).iter().map(|a| a.to_string()))
            .collect();
        if matches!(function, "LoginFunction" | "UserinfoFunction") {
            needed.insert("ssm:GetParameter".into());
        }
        let prefixes: BTreeSet<String> = store
            .called()
            .iter()
            .flat_map(|m| prefixes_of(m).iter().map(|p| p.to_string()))
            .collect();
        assert_eq!(
            leading_keys(&t, function),
            prefixes,
            "{function}: the key prefixes it may touch != those its code touches"
        );
        if function == "AvatarFunction" {
            needed.extend(
                avatars
                    .called()
                    .iter()
                    .flat_map(|m| s3_actions_of(m).iter().map(|a| a.to_string())),
            );
        }
        assert_eq!(
            granted(&t, function),
            needed,
            "{function}: template grants != what the code calls"
        );
    }
}

/// The (namespace, metric name, dimension names) an alarm's metrics name, its metric math included.
fn alarm_metrics(alarm: &Value) -> Vec<(String, String, BTreeSet<String>)> {
    let p = &alarm["Properties"];
    let mut metrics: Vec<&Value> = Vec::new();
    if p.get("MetricName").is_some() {
        metrics.push(p);
    }
    for m in p["Metrics"].as_sequence().into_iter().flatten() {
        if let Some(metric) = m.get("MetricStat").and_then(|s| s.get("Metric")) {
            metrics.push(metric);
        }
    }
    metrics
        .iter()
        .map(|m| {
            let dims = m["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|d| text(&d["Name"]))
                .collect();
            (text(&m["Namespace"]), text(&m["MetricName"]), dims)
        })
        .collect()
}

/// The namespace the template gives the functions' metrics.
const NAMESPACE: &str = "!!Sub wxauth/${AWS::StackName}";

#[test]
fn alarms_and_the_dashboard_name_only_metrics_the_code_emits() {
    use wxauth::metrics::Metric;
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(&env[wxauth::metrics::NAMESPACE_ENV]), NAMESPACE);
    let resources = t["Resources"].as_mapping().expect("resources");
    let mut custom = 0;
    let mut alarms = BTreeSet::new();
    for (name, r) in resources {
        if text(&r["Type"]) != "AWS::CloudWatch::Alarm" {
            continue;
        }
        alarms.insert(text(name));
        assert_eq!(
            strings(&r["Properties"]["AlarmActions"]),
            ["!!Ref AlarmTopic"]
        );
        for (namespace, metric, dims) in alarm_metrics(r) {
            if namespace.starts_with("AWS/") {
                continue;
            }
            custom += 1;
            assert_eq!(namespace, NAMESPACE, "{name:?}");
            let m = Metric::named(&metric).unwrap_or_else(|| panic!("{metric} is not emitted"));
            let sets: Vec<BTreeSet<String>> = m
                .dimensions()
                .iter()
                .map(|s| s.iter().map(|d| d.to_string()).collect())
                .collect();
            assert!(
                sets.contains(&dims),
                "{metric} has no dimension set {dims:?}"
            );
        }
    }
    assert!(custom >= 4, "alarms on the wxauth metrics");
    for want in [
        "MisconfiguredAlarm",
        "WechatFailureAlarm",
        "AuthorizerErrorAlarm",
        "FunctionErrorAlarm",
        "ThrottleAlarm",
        "Api5xxAlarm",
        "DynamoDbThrottleAlarm",
    ] {
        assert!(alarms.contains(want), "no {want}");
    }
    // The README lists every metric and every alarm by name.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    for m in <Metric as strum::IntoEnumIterator>::iter() {
        assert!(
            readme.contains(&format!("`{}`", m.name())),
            "README lacks {}",
            m.name()
        );
    }
    for a in &alarms {
        assert!(readme.contains(&format!("`{a}`")), "README lacks {a}");
    }

    // The dashboard: every wxauth metric it shows, in a metrics row or a SEARCH expression.
    let body = text(&resources[&Value::String("Dashboard".into())]["Properties"]["DashboardBody"]);
    let body = body.strip_prefix("!!Sub ").expect("a !Sub body");
    let dashboard: serde_json::Value = serde_json::from_str(body).expect("dashboard JSON");
    let mut shown = BTreeSet::new();
    for w in dashboard["widgets"].as_array().expect("widgets") {
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().expect("a metrics row");
            if row[0] == "wxauth/${AWS::StackName}" {
                let m = Metric::named(row[1].as_str().expect("name")).expect("emitted");
                let dims: Vec<&str> = row[2..]
                    .iter()
                    .step_by(2)
                    .filter_map(|d| d.as_str())
                    .collect();
                assert!(m.dimensions().contains(&dims.as_slice()), "{row:?}");
                shown.insert(m.name());
            }
            if let Some(e) = row[0]["expression"].as_str() {
                let name = e
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next());
                let m = Metric::named(name.expect("a SEARCH by name")).expect("emitted");
                shown.insert(m.name());
            }
        }
    }
    for want in [
        "Logins",
        "Errors",
        "AuthorizerDecisions",
        "Latency",
        "WechatLatency",
    ] {
        assert!(shown.contains(want), "the dashboard lacks {want}");
    }
}

#[test]
fn log_levels_keep_the_metrics_and_arns_name_the_partition() {
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(&env["RUST_LOG"]), "!!Ref LogLevel");
    for f in [
        "LoginFunction",
        "UserinfoFunction",
        "AvatarFunction",
        "AuthorizerFunction",
    ] {
        let logging = &resource(&t, f)["Properties"]["LoggingConfig"];
        // Lambda gives lines without a level (the EMF records) INFO: a higher filter drops them.
        assert_eq!(text(&logging["ApplicationLogLevel"]), "INFO", "{f}");
    }
    // aws-cn (and GovCloud): no ARN spells the partition out.
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template");
    for line in raw.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains("arn:aws:") || line.contains("e.g.") || line.contains("KMS key ARN"),
            "a fixed partition: {line}"
        );
    }
}
