//! The simulator against the real-world samples (`../shared/realworld/freshchat-*`): its answers
//! and webhook bodies have the samples' keys and JSON types, and no keys the samples lack except
//! where listed (and said why).

use axum::body::Bytes;
use serde_json::{json, Value};
use zfsync_freshchat::sim::{parts, AgentMessage, SimConfig, WebhookShape};

use super::common::{assert_shape, corpus_dir, id, pem_der, sample, start, verify, Env};

/// A conversation with a customer and an agent message, its webhooks settled.
async fn scene(env: &Env, n: u32) -> (String, String, Vec<Value>) {
    let uid = env.user(n).await;
    let cid = id(&env.conversation(&uid, "Xin chào").await["conversation_id"]);
    env.sim
        .agent_sends(
            &cid,
            &env.sim.default_agent_id(),
            vec![parts::text("হাই সেখানে!")],
        )
        .await
        .unwrap();
    let bodies = env.settled().await;
    (uid, cid, bodies)
}

#[tokio::test]
async fn the_test_verifier_accepts_the_known_answer_vector() {
    let Some(dir) = corpus_dir() else { return };
    let s = sample(&dir, "freshchat-webhook-message_create-signed.json");
    let der = pem_der(s["public_key_as_pasted"].as_str().unwrap());
    let body = s["body_text"].as_str().unwrap().as_bytes();
    assert_eq!(body.len(), 554);
    let good = s["headers"]["X-FreshChat-Signature"].as_str().unwrap();
    assert!(verify(&der, body, good));
    assert!(!verify(
        &der,
        body,
        s["invalid_signature"].as_str().unwrap()
    ));
}

#[tokio::test]
async fn message_create_has_the_2022_sample_shape() {
    let Some(dir) = corpus_dir() else { return };
    let s = &sample(&dir, "freshchat-webhook-message_create.json")["body"];
    let env = start(SimConfig::default()).await;
    let (_, _, bodies) = scene(&env, 1).await;
    let ours = &bodies[1];
    assert_shape("envelope", ours, s, &[]);
    assert_shape("data", &ours["data"], &s["data"], &[]);
    // Newer payloads also carry the numeric twins (reference §7.5).
    assert_shape(
        "message",
        &ours["data"]["message"],
        &s["data"]["message"],
        &["freshchat_conversation_id", "freshchat_channel_id"],
    );
    assert_shape("actor", &ours["actor"], &s["actor"], &[]);
    // The customer's message in the same shape, without user_id (as in every user sample).
    let user = &bodies[0]["data"]["message"];
    assert!(user.get("user_id").is_none());
    let mut s_user = s["data"]["message"].clone();
    s_user.as_object_mut().unwrap().remove("user_id");
    assert_shape(
        "user message",
        user,
        &s_user,
        &["freshchat_conversation_id", "freshchat_channel_id"],
    );
}

#[tokio::test]
async fn message_create_has_the_2021_and_2020_sample_shapes() {
    let Some(dir) = corpus_dir() else { return };
    let env = start(SimConfig {
        webhook_shape: WebhookShape::V2021,
        ..SimConfig::default()
    })
    .await;
    let (_, _, bodies) = scene(&env, 2).await;
    let agent_sample = &sample(&dir, "freshchat-webhook-message_create-kb2021.json")["body"];
    assert_shape("2021 envelope", &bodies[1], agent_sample, &[]);
    assert_shape(
        "2021 message",
        &bodies[1]["data"]["message"],
        &agent_sample["data"]["message"],
        &[],
    );
    let user_sample = &sample(&dir, "freshchat-webhook-message_create-user-2020.json")["body"];
    // Since 2021 every message also names its interaction and organisation actor.
    let allowed = ["interaction_id", "org_actor_id"];
    assert_shape(
        "2020 user message",
        &bodies[0]["data"]["message"],
        &user_sample["data"]["message"],
        &allowed,
    );
    let signed = sample(&dir, "freshchat-webhook-message_create-signed.json");
    let signed: Value = serde_json::from_str(signed["body_text"].as_str().unwrap()).unwrap();
    assert_shape(
        "2019 user message",
        &bodies[0]["data"]["message"],
        &signed["data"]["message"],
        &["interaction_id", "org_actor_id", "message_source"],
    );
}

#[tokio::test]
async fn conversation_events_have_the_sample_shapes() {
    let Some(dir) = corpus_dir() else { return };
    let env = start(SimConfig::default()).await;
    let (uid, cid, _) = scene(&env, 3).await;
    env.recv.clear();
    let agent = env.sim.default_agent_id();
    env.sim.assign(&cid, &agent).await.unwrap();
    env.sim.resolve(&cid, &agent).await.unwrap();
    env.user_says(&cid, &uid, "again").await;
    let bodies = env.settled().await;

    let s = &sample(&dir, "freshchat-webhook-conversation_assignment.json")["body"];
    assert_shape("assignment envelope", &bodies[0], s, &[]);
    // interaction_id beside the conversation (reference §7.6), and the 2022 conversation fields.
    assert_shape(
        "assignment",
        &bodies[0]["data"]["assignment"],
        &s["data"]["assignment"],
        &["interaction_id"],
    );
    assert_shape(
        "assignment conversation",
        &bodies[0]["data"]["assignment"]["conversation"],
        &s["data"]["assignment"]["conversation"],
        &["skill_id", "sla_policy_id", "sla_breached"],
    );

    let s = &sample(&dir, "freshchat-webhook-conversation_resolution.json")["body"];
    assert_shape("resolution envelope", &bodies[1], s, &[]);
    // The resolving conversation's user and interaction (reference §7.7).
    assert_shape(
        "resolve",
        &bodies[1]["data"]["resolve"],
        &s["data"]["resolve"],
        &["interaction_id", "user"],
    );
    assert_shape(
        "resolve conversation",
        &bodies[1]["data"]["resolve"]["conversation"],
        &s["data"]["resolve"]["conversation"],
        &[
            "assigned_agent_id",
            "assigned_group_id",
            "skill_id",
            "sla_policy_id",
            "sla_breached",
        ],
    );
    let users = sample(&dir, "freshchat-api-users-create.json");
    let mut user_sample = users["body"].clone();
    for k in ["email", "phone"] {
        user_sample.as_object_mut().unwrap().remove(k);
    }
    assert_shape(
        "resolve user",
        &bodies[1]["data"]["resolve"]["user"],
        &user_sample,
        &["login_status", "org_contact_id"],
    );

    let s = &sample(&dir, "freshchat-webhook-conversation_reopen.json")["body"];
    assert_shape("reopen envelope", &bodies[2], s, &[]);
    assert_shape(
        "reopen",
        &bodies[2]["data"]["reopen"],
        &s["data"]["reopen"],
        &[],
    );
    assert_shape(
        "reopen conversation",
        &bodies[2]["data"]["reopen"]["conversation"],
        &s["data"]["reopen"]["conversation"],
        &["assigned_agent_id", "assigned_group_id"],
    );
    assert_eq!(
        bodies[2]["data"]["reopen"]["interaction_id"],
        bodies[3]["data"]["message"]["interaction_id"]
    );

    // The 2021 reopen: no skill or SLA fields.
    env.sim.set_webhook_shape(WebhookShape::V2021);
    env.recv.clear();
    env.sim.resolve(&cid, &agent).await.unwrap();
    env.user_says(&cid, &uid, "and again").await;
    let bodies = env.settled().await;
    let s = &sample(&dir, "freshchat-webhook-conversation_reopen-kb2021.json")["body"];
    assert_shape(
        "2021 reopen conversation",
        &bodies[1]["data"]["reopen"]["conversation"],
        &s["data"]["reopen"]["conversation"],
        &["assigned_agent_id"],
    );
}

#[tokio::test]
async fn api_answers_have_the_sample_shapes() {
    let Some(dir) = corpus_dir() else { return };
    let env = start(SimConfig::default()).await;
    // POST /v2/users with the fields of the sample.
    let s = &sample(&dir, "freshchat-api-users-create.json")["body"];
    let a = env
        .post("/v2/users", json!({"email": "test@test.com", "first_name": "Test", "last_name": "Test",
            "phone": "1234567890", "reference_id": "1234567890", "properties": [{"name": "key", "value": "value"}]}))
        .await;
    assert_eq!(a.status, 201);
    assert_shape("user", &a.body, s, &["login_status", "org_contact_id"]);
    let uid = id(&a.body["id"]);

    // POST /v2/conversations (with the production request body's shape) and GET.
    let request = &sample(&dir, "freshchat-api-conversations-create-request.json")["body"];
    let mut body = request.clone();
    body["channel_id"] = json!(env.channel().await);
    body["users"] = json!([{"id": uid}]);
    let agent = env.sim.default_agent_id();
    body["messages"][0]["actor_id"] = json!(agent);
    let img = env
        .sim
        .upload_for_agent("image.jpg", "image/jpeg", Bytes::from_static(b"\xFF\xD8"));
    body["messages"][0]["message_parts"][1]["image"]["url"] = json!(img);
    let a = env.post("/v2/conversations", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let s = &sample(&dir, "freshchat-api-conversations-create.json")["body"];
    assert_shape(
        "created conversation",
        &a.body,
        s,
        &[
            "conversation_internal_id",
            "app_id",
            "skill_id",
            "properties",
            "url",
            "org_contact_id",
            "created_time",
            "updated_time",
            "user_id",
        ],
    );
    let cid = id(&a.body["conversation_id"]);
    let s = &sample(&dir, "freshchat-api-conversation-object.json")["body"];
    assert_shape(
        "conversation",
        &env.get(&format!("/v2/conversations/{cid}")).await.body,
        s,
        &[],
    );

    // A customer's message as the API returns it.
    let s = &sample(&dir, "freshchat-api-message-object.json")["body"];
    let m = env.user_says(&cid, &uid, "hello world").await;
    assert_eq!(m.status, 201);
    assert_shape("message", &m.body, s, &["message_source"]);

    // Uploads.
    let form = |field: &str, name: &str, ct: &str| {
        reqwest::multipart::Form::new().part(
            field.to_owned(),
            reqwest::multipart::Part::bytes(b"%PDF-1.4".to_vec())
                .file_name(name.to_owned())
                .mime_str(ct)
                .unwrap(),
        )
    };
    let up = |path: &str, f| {
        env.http
            .post(env.url(path))
            .bearer_auth(env.sim.api_key())
            .multipart(f)
    };
    let a = env
        .send(up(
            "/v2/files/upload",
            form("file", "file1.pdf", "application/pdf"),
        ))
        .await;
    let s = &sample(&dir, "freshchat-api-files-upload.json")["body"];
    assert_shape("file upload", &a.body, s, &["url"]);
    let a = env
        .send(up(
            "/v2/images/upload",
            form("image", "image2.png", "image/png"),
        ))
        .await;
    let s = &sample(&dir, "freshchat-api-images-upload.json")["body"];
    assert_shape(
        "image upload",
        &a.body,
        s,
        &["id", "name", "content_type", "width", "height", "thumbnail"],
    );

    // A channel has the keys of a channel in Freshchat's own sample data.
    let s = &sample(&dir, "freshchat-product-event-onConversationUpdate.json")["body"]["data"]
        ["associations"]["channel"];
    let ch = &env.get("/v2/channels").await.body["channels"][0];
    assert_shape("channel", ch, s, &["source"]);
}

#[tokio::test]
async fn the_captured_image_error_is_reproduced() {
    let Some(dir) = corpus_dir() else { return };
    let s = sample(
        &dir,
        "freshchat-api-error-image-empty-content-captured.json",
    );
    // The captured body, written as JSON: { code: 400, status: 'INVALID_VALUE', message: '...' }.
    let text = s["body_text"].as_str().unwrap().replace('\'', "\"");
    let text = ["code", "status", "message"].iter().fold(text, |t, k| {
        t.replace(&format!("{k}:"), &format!("\"{k}\":"))
    });
    let captured: Value = serde_json::from_str(&text).unwrap();
    let env = start(SimConfig::default()).await;
    let uid = env.user(5).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    // The captured request, its image URL pointing at content that cannot be fetched.
    let mut req = s["request_body"].clone();
    req["actor_id"] = json!(uid);
    req["message_parts"][1]["image"]["url"] = json!(format!(
        "{}files/1762997752981-attachment.png",
        env.sim.cdn_url()
    ));
    let a = env
        .post(&format!("/v2/conversations/{cid}/messages"), req.clone())
        .await;
    assert_eq!((a.status, &a.body), (400, &captured));
    // With the image really there, the same request is accepted.
    let url = env.sim.upload_for_agent(
        "attachment.png",
        "image/png",
        Bytes::from_static(b"\x89PNG"),
    );
    req["message_parts"][1]["image"]["url"] = json!(url);
    assert_eq!(
        env.post(&format!("/v2/conversations/{cid}/messages"), req)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn message_pages_and_quick_replies_match_the_fixtures() {
    let Some(dir) = corpus_dir() else { return };
    // The fixtures are TypeScript literals: read the facts they show.
    let page = sample(&dir, "freshchat-api-conversation-messages-page.json");
    let text = page["body_text"].as_str().unwrap();
    assert!(text.contains("link: {\n          href: '/v2/conversations/"));
    assert!(text.contains("from_time=") && text.contains("isResolved: true"));
    let qr = sample(&dir, "freshchat-api-message-quickreply-response.json");
    assert!(qr["body_text"].as_str().unwrap().contains(
        "reply_parts: [\n          {\n            collection: {\n              sub_parts: ["
    ));

    let env = start(SimConfig::default()).await;
    let (_, cid, _) = scene(&env, 6).await;
    let agent = env.sim.default_agent_id();
    env.sim
        .agent_sends_message(
            &cid,
            &agent,
            AgentMessage::text("Hello")
                .with_reply_parts(vec![parts::quick_replies(&["Yes", "No"])]),
        )
        .await
        .unwrap();
    env.sim.resolve(&cid, &agent).await.unwrap();
    let a = env
        .get(&format!(
            "/v2/conversations/{cid}/messages?items_per_page=1"
        ))
        .await;
    // {link:{href}, messages:[…]}: one link object, root-relative, with /v2 and from_time.
    let href = a.body["link"]["href"].as_str().unwrap();
    assert!(
        href.starts_with("/v2/conversations/")
            && href.contains("page=1&items_per_page=1&from_time=")
    );
    assert_eq!(a.body.as_object().unwrap().len(), 2);
    let sys = &a.body["messages"][0];
    assert_eq!(
        (sys["message_source"].as_str(), sys["message_type"].as_str()),
        (Some("system"), Some("normal"))
    );
    assert_eq!(sys["actor_type"], "agent");
    assert_eq!(sys["meta_data"], json!({"isResolved": true}));
    let next = env.get(href).await;
    let m = &next.body["messages"][0];
    assert_eq!(
        m["reply_parts"],
        json!([{"collection": {"sub_parts": [{"quick_reply_button": {"label": "Yes"}}, {"quick_reply_button": {"label": "No"}}]}}])
    );
}

#[tokio::test]
async fn webhooks_are_never_product_events_or_legacy_bodies() {
    let Some(dir) = corpus_dir() else { return };
    let env = start(SimConfig::default()).await;
    let (_, _, bodies) = scene(&env, 7).await;
    let product = &sample(&dir, "freshchat-product-event-onMessageCreate.json")["body"];
    let legacy = &sample(&dir, "freshchat-webhook-message_create-kb2018-legacy.json")["body"];
    for b in &bodies {
        for k in product.as_object().unwrap().keys() {
            assert!(
                b.get(k).is_none() || k == "data",
                "product-event key {k} in {b}"
            );
        }
        assert!(b["actor"].get("type").is_none());
        assert!(legacy["data"]["message"]["msg_parts"].is_array());
        assert!(b["data"]["message"].get("msg_parts").is_none());
        assert!(b["data"]["message"]["message_parts"].is_array());
    }
}
