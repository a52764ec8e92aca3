//! The simulated API's rules, over loopback with raw JSON.

use axum::body::Bytes;
use serde_json::{json, Value};
use zfsync_freshchat::sim::{parts, SimConfig};

use super::common::{id, is_iso_ms, start};

#[tokio::test]
async fn bearer_auth_and_error_bodies() {
    let env = start(SimConfig::default()).await;
    let unauth =
        json!({"code": 401, "status": "UNAUTHORIZED", "message": "Unauthenticated Request"});
    let a = env
        .send(env.http.get(env.url("/v2/accounts/configuration")))
        .await;
    assert_eq!((a.status, &a.body), (401, &unauth));
    for auth in [
        "Bearer wrong",
        "sim-api-key",
        "Basic c2ltLWFwaS1rZXk=",
        "Bearer ",
    ] {
        let a = env
            .send(
                env.http
                    .get(env.url("/v2/channels"))
                    .header("authorization", auth),
            )
            .await;
        assert_eq!((a.status, &a.body), (401, &unauth), "{auth}");
    }
    let a = env
        .send(
            env.http
                .get(env.url("/v2/channels"))
                .header("authorization", format!("bearer {}", env.sim.api_key())),
        )
        .await;
    assert_eq!(a.status, 200, "the scheme name is case-insensitive");
    let a = env.get("/v2/nothing/here").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["code"], 404);
    assert!(a.body["status"].is_string() && a.body["message"].is_string());
    let a = env.get("/v2/users/missing").await;
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (404, Some("USER_NOT_FOUND"))
    );
    let a = env.get("/v2/conversations/missing").await;
    assert_eq!(a.body["status"], "CONVERSATION_NOT_FOUND");
    let a = env.get("/v2/agents/missing").await;
    assert_eq!(
        a.body,
        json!({"code": 404, "status": "AGENT_NOT_FOUND", "message": "agent not found"})
    );
    let a = env
        .send(
            env.http
                .post(env.url("/v2/users"))
                .bearer_auth(env.sim.api_key())
                .body("{not json"),
        )
        .await;
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (400, Some("INVALID_VALUE"))
    );
}

#[tokio::test]
async fn account_channels_agents_groups() {
    let env = start(SimConfig::default()).await;
    let a = env.get("/v2/accounts/configuration").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["app_id"], env.sim.app_id());
    for k in ["organisation_id", "account_id", "bundle_id"] {
        assert!(a.body[k].is_u64(), "{k}");
    }
    for k in [
        "organisation_domain",
        "account_domain",
        "bundle_type",
        "plan_type",
        "datacenter",
    ] {
        assert!(a.body[k].is_string(), "{k}");
    }
    let a = env.get("/v2/channels?items_per_page=1&page=2").await;
    assert_eq!(a.body["channels"][0]["name"], "Website");
    assert_eq!(a.body["pagination"]["total_items"], 2);
    assert!(a.body["links"]["previous_page"]["href"].is_string());
    assert!(a.body["links"].get("next_page").is_none());
    let a = env.get("/v2/channels?page=9").await;
    assert_eq!(a.body["status"], "WRONG_PAGE");
    let agent = env.sim.add_agent("Lan");
    let a = env.get("/v2/agents?items_per_page=100").await;
    assert_eq!(a.body["agents"].as_array().unwrap().len(), 2);
    assert_eq!(
        env.get(&format!("/v2/agents/{agent}")).await.body["first_name"],
        "Lan"
    );
    let a = env.get("/v2/groups").await;
    assert!(a.body["groups"][0]["id"].is_string());
}

#[tokio::test]
async fn users_create_search_update() {
    let env = start(SimConfig::default()).await;
    let a = env
        .post(
            "/v2/users",
            json!({"first_name": "Khánh", "last_name": "Zalo", "email": "k@example.com",
                "reference_id": "zalo:oa1:7", "avatar": {"url": "https://example.com/a.png"},
                "properties": [{"name": "external_user_provider", "value": "zalo"},
                               {"name": "zalo_user_id", "value": "7"}]}),
        )
        .await;
    assert_eq!(a.status, 201);
    let user = a.body.clone();
    let uid = id(&user["id"]);
    assert!(is_iso_ms(&user["created_time"]) && is_iso_ms(&user["updated_time"]));
    assert_eq!(
        user["properties"][1],
        json!({"name": "zalo_user_id", "value": "7"})
    );
    assert!(user["org_contact_id"].is_string());
    assert_eq!(env.get(&format!("/v2/users/{uid}")).await.body, user);

    // Refused shapes: properties must be an array of {name, value}.
    for bad in [
        json!({"properties": {"external_user_provider": "zalo"}}),
        json!({"properties": [{"value": "x"}]}),
        json!({"properties": [["external_user_provider", "zalo"]]}),
        json!({"first_name": 5}),
        json!({"avatar": "https://example.com/a.png"}),
        json!([]),
    ] {
        let a = env.post("/v2/users", bad.clone()).await;
        assert_eq!(
            (a.status, a.body["status"].as_str()),
            (400, Some("INVALID_VALUE")),
            "{bad}"
        );
    }

    // Search: a filter is required; reference_id matches exactly, possibly nothing.
    let a = env.get("/v2/users").await;
    assert_eq!(a.status, 400);
    let a = env.get("/v2/users?reference_id=zalo:oa1:7").await;
    assert_eq!(a.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["users"][0]["id"], uid.as_str());
    let a = env.get("/v2/users?reference_id=zalo:oa1:70").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["users"], json!([]));
    let a = env.get("/v2/users?email=k@example.com").await;
    assert_eq!(a.body["users"].as_array().unwrap().len(), 1);

    // Update: fields merge, properties replace the list, reference_id is re-indexed.
    let a = env
        .put(
            &format!("/v2/users/{uid}"),
            json!({"first_name": "Minh", "reference_id": "zalo:oa1:8",
                   "properties": [{"name": "zalo_user_id", "value": "8"}]}),
        )
        .await;
    assert_eq!(a.status, 200);
    let u = env.get(&format!("/v2/users/{uid}")).await.body;
    assert_eq!(
        (u["first_name"].as_str(), u["last_name"].as_str()),
        (Some("Minh"), Some("Zalo"))
    );
    assert_eq!(
        u["properties"],
        json!([{"name": "zalo_user_id", "value": "8"}])
    );
    assert_eq!(
        env.get("/v2/users?reference_id=zalo:oa1:7").await.body["users"],
        json!([])
    );
    assert_eq!(
        env.get("/v2/users?reference_id=zalo:oa1:8").await.body["users"][0]["id"],
        uid.as_str()
    );
    assert_eq!(env.put("/v2/users/nobody", json!({})).await.status, 404);
    assert_eq!(env.sim.users().len(), 1);
}

#[tokio::test]
async fn an_account_can_refuse_undefined_user_properties() {
    let env = start(SimConfig {
        defined_user_properties: Some(vec!["zalo_user_id".into()]),
        ..SimConfig::default()
    })
    .await;
    let body = json!({"first_name": "A", "properties": [
        {"name": "zalo_user_id", "value": "1"}, {"name": "external_user_provider", "value": "zalo"}]});
    let a = env.post("/v2/users", body.clone()).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["status"], "INVALID_VALUE");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("external_user_provider"),
        "{}",
        a.body
    );
    assert!(env.sim.users().is_empty());
    // Without the undefined property it works; updates are checked too.
    let a = env
        .post(
            "/v2/users",
            json!({"properties": [{"name": "zalo_user_id", "value": "1"}]}),
        )
        .await;
    assert_eq!(a.status, 201);
    let uid = id(&a.body["id"]);
    let a = env
        .put(
            &format!("/v2/users/{uid}"),
            json!({"properties": body["properties"]}),
        )
        .await;
    assert_eq!(a.status, 400);
    // The account defines the property: accepted from then on (control route).
    let r = env
        .http
        .put(env.url("/sim/user-properties"))
        .json(&json!({"defined": ["zalo_user_id", "external_user_provider"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(env.post("/v2/users", body.clone()).await.status, 201);
    env.sim.set_defined_user_properties(None);
    let any = json!({"properties": [{"name": "anything", "value": "x"}]});
    assert_eq!(env.post("/v2/users", any).await.status, 201);
}

#[tokio::test]
async fn conversations_are_created_read_and_updated() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(1).await;
    let conv = env.conversation(&uid, "xin chào").await;
    let cid = id(&conv["conversation_id"]);
    assert!(conv["conversation_internal_id"].is_u64());
    assert_eq!(conv["status"], "new");
    assert_eq!(conv["user_id"], uid.as_str());
    assert!(conv["properties"].is_object());
    let internal = conv["conversation_internal_id"].as_u64().unwrap();
    // Read by either id.
    assert_eq!(
        env.get(&format!("/v2/conversations/{cid}")).await.body,
        conv
    );
    assert_eq!(
        env.get(&format!("/v2/conversations/{internal}")).await.body["conversation_id"],
        cid.as_str()
    );
    assert_eq!(
        env.get(&format!("/v2/users/{uid}/conversations"))
            .await
            .body,
        json!({"conversations": [{"id": cid}]})
    );

    // properties must be an object, on create and on update.
    let channel = env.channel().await;
    let bad = json!({"channel_id": channel, "users": [{"id": uid}],
        "properties": [{"name": "priority", "value": "High"}]});
    let a = env.post("/v2/conversations", bad).await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"]
        .as_str()
        .unwrap()
        .contains("Conversation payload not valid"));
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"properties": [{"name": "x"}]}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (400, Some("Conversation payload not valid"))
    );
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"properties": {"priority": "High"}}),
        )
        .await;
    assert_eq!(a.body["properties"]["priority"], "High");

    // Other refusals.
    for (body, what) in [
        (json!({"users": [{"id": uid}]}), "no channel"),
        (
            json!({"channel_id": "nope", "users": [{"id": uid}]}),
            "unknown channel",
        ),
        (json!({"channel_id": channel}), "no user"),
        (
            json!({"channel_id": channel, "users": [{"id": uid}], "app_id": "other"}),
            "app id",
        ),
        (
            json!({"channel_id": channel, "users": [{"id": uid}], "status": "resolved"}),
            "status",
        ),
    ] {
        assert_eq!(
            env.post("/v2/conversations", body).await.status,
            400,
            "{what}"
        );
    }

    // Assignment needs a known agent; resolve; reopen with status new.
    let agent = env.sim.default_agent_id();
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"status": "assigned"}),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"assigned_agent_id": "ghost"}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (404, Some("AGENT_NOT_FOUND"))
    );
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"status": "assigned", "assigned_agent_id": agent}),
        )
        .await;
    assert_eq!(
        (
            a.body["status"].as_str(),
            a.body["assigned_agent_id"].as_str()
        ),
        (Some("assigned"), Some(agent.as_str()))
    );
    assert!(a.body["assigned_group_id"].is_string());
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(a.body["status"], "resolved");
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"status": "new"}),
        )
        .await;
    assert_eq!(a.body["status"], "new");
    let a = env
        .put(
            &format!("/v2/conversations/{cid}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn messages_are_checked_like_freshchat_does() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(2).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let path = format!("/v2/conversations/{cid}/messages");
    let agent = env.sim.default_agent_id();
    let msg = |parts: Value| {
        json!({"message_parts": parts, "actor_type": "agent", "actor_id": agent,
            "message_type": "normal"})
    };
    let refuse = |status: &'static str, message: &'static str| json!({"code": 400, "status": status, "message": message});
    let cases = [
        (msg(json!([])), None),
        (
            msg(json!([{"text": {"content": "a"}, "image": {"url": "https://x.example/a.png"}}])),
            Some(refuse(
                "INVALID_VALUE",
                "Exactly one part should be present",
            )),
        ),
        (
            msg(json!([{"image": {"url": ""}}])),
            Some(refuse("INVALID_VALUE", "IMAGE_EMPTY_CONTENT")),
        ),
        (
            msg(json!([{"image": {"fileHash": "abc"}}])),
            Some(refuse("INVALID_VALUE", "IMAGE_EMPTY_CONTENT")),
        ),
        (msg(json!([{"sticker": {"id": "1"}}])), None),
        (msg(json!([{"text": {}}])), None),
        (msg(json!([{"file": {"name": "a.pdf"}}])), None),
        (msg(json!(["text"])), None),
        (
            json!({"message_parts": [{"text": {"content": "x"}}], "actor_type": "agent", "actor_id": "ghost"}),
            None,
        ),
        (
            json!({"message_parts": [{"text": {"content": "x"}}], "actor_type": "user", "actor_id": "someone"}),
            None,
        ),
        (
            json!({"message_parts": [{"text": {"content": "x"}}], "actor_type": "user", "actor_id": uid,
                "message_type": "private"}),
            None,
        ),
        (
            json!({"message_parts": [{"text": {"content": "x"}}], "actor_type": "system"}),
            None,
        ),
        (json!({"message_parts": [{"text": {"content": "x"}}]}), None),
        (
            json!({"message_parts": [{"text": {"content": "x"}}], "actor_type": "bot", "message_type": "system"}),
            None,
        ),
    ];
    for (body, exact) in cases {
        let a = env.post(&path, body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(a.body["status"], "INVALID_VALUE", "{body}");
        if let Some(exact) = exact {
            assert_eq!(a.body, exact, "{body}");
        }
    }
    // An image on the simulator's own CDN that was never stored cannot be fetched.
    let ghost = format!("{}nothing/here.png", env.sim.cdn_url());
    let a = env
        .post(&path, msg(json!([{"image": {"url": ghost}}])))
        .await;
    assert_eq!(a.body, refuse("INVALID_VALUE", "IMAGE_EMPTY_CONTENT"));

    // Accepted: every documented kind, quick replies in reply_parts, a bot without actor_id.
    let real = env
        .sim
        .upload_for_agent("p.png", "image/png", Bytes::from_static(b"\x89PNG"));
    let a = env
        .post(
            &path,
            json!({"actor_type": "bot", "message_type": "normal",
                "message_parts": [parts::text("Pick one"), parts::image(&real),
                                  parts::url_button("https://example.com", "Open"),
                                  parts::video("https://x.example/v.mp4", "video/mp4")],
                "reply_parts": [parts::quick_replies(&["Yes", "No"]),
                                parts::dropdown(&[("Google", "123_google")])]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["actor_type"], "bot");
    assert!(a.body.get("actor_id").is_none());
    assert_eq!(a.body["message_type"], "normal");
    assert_eq!(
        a.body["reply_parts"][0]["collection"]["sub_parts"][1]["quick_reply_button"]["label"],
        "No"
    );
    assert!(is_iso_ms(&a.body["created_time"]));
    let a = env
        .post(
            &path,
            msg(json!([{"text": {"content": "x"}}, {"email": {"content": "y"}}])),
        )
        .await;
    assert_eq!(a.status, 201);
}

#[tokio::test]
async fn only_the_latest_conversation_takes_messages() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(3).await;
    let c1 = id(&env.conversation(&uid, "first").await["conversation_id"]);
    let c2 = id(&env.conversation(&uid, "second").await["conversation_id"]);
    let a = env.user_says(&c1, &uid, "late").await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"code": 400, "status": "INVALID_VALUE", "message": "not the latest conversation"})
        )
    );
    assert_eq!(env.user_says(&c2, &uid, "ok").await.status, 201);
    // The list is oldest first, the last is the latest.
    assert_eq!(
        env.get(&format!("/v2/users/{uid}/conversations"))
            .await
            .body,
        json!({"conversations": [{"id": c1}, {"id": c2}]})
    );
    // Another channel keeps its own latest.
    let other = env.get("/v2/channels").await.body["channels"][1]["id"].clone();
    let a = env
        .post(
            "/v2/conversations",
            json!({"channel_id": other, "users": [{"id": uid}]}),
        )
        .await;
    let c3 = id(&a.body["conversation_id"]);
    assert_eq!(env.user_says(&c2, &uid, "still ok").await.status, 201);
    assert_eq!(env.user_says(&c3, &uid, "there too").await.status, 201);
}

#[tokio::test]
async fn a_customer_message_reopens_a_resolved_conversation() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(4).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    env.sim
        .resolve(&cid, &env.sim.default_agent_id())
        .await
        .unwrap();
    assert_eq!(
        env.get(&format!("/v2/conversations/{cid}")).await.body["status"],
        "resolved"
    );
    // An agent's message does not reopen; the customer's does.
    let a = env
        .post(
            &format!("/v2/conversations/{cid}/messages"),
            json!({"message_parts": [parts::text("note")], "actor_type": "bot", "message_type": "private"}),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        env.get(&format!("/v2/conversations/{cid}")).await.body["status"],
        "resolved"
    );
    let m = env.user_says(&cid, &uid, "again").await.body;
    assert_eq!(
        env.get(&format!("/v2/conversations/{cid}")).await.body["status"],
        "reopened"
    );
    let msgs = env.sim.messages(&cid);
    let sys: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["message_source"] == "system")
        .collect();
    assert_eq!(sys.len(), 2);
    assert_eq!(sys[0]["meta_data"], json!({"isResolved": true}));
    assert_eq!(sys[1]["meta_data"], json!({"isReopen": true}));
    // The reopening starts a new interaction, which the customer's message belongs to.
    assert_eq!(sys[1]["interaction_id"], m["interaction_id"]);
    assert_ne!(sys[0]["interaction_id"], m["interaction_id"]);
}

#[tokio::test]
async fn message_listing_is_newest_first_with_a_single_link() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(5).await;
    let cid = id(&env.conversation(&uid, "m0").await["conversation_id"]);
    for i in 1..12 {
        env.user_says(&cid, &uid, &format!("m{i}")).await;
    }
    env.sim
        .resolve(&cid, &env.sim.default_agent_id())
        .await
        .unwrap();
    let mut path = format!("/v2/conversations/{cid}/messages?items_per_page=5");
    let mut texts = Vec::new();
    let mut pages = 0;
    loop {
        let a = env.get(&path).await;
        assert_eq!(a.status, 200);
        pages += 1;
        let keys: Vec<&String> = a.body.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| *k == "messages" || *k == "link"),
            "{keys:?}"
        );
        if pages == 1 {
            // Newest first: the system notice of the resolution.
            let first = &a.body["messages"][0];
            assert_eq!(first["message_source"], "system");
            assert_eq!(first["meta_data"]["isResolved"], true);
            // A message arriving mid-walk does not shift the pages.
            env.post(
                &format!("/v2/conversations/{cid}/messages"),
                json!({"message_parts": [parts::text("late")], "actor_type": "bot"}),
            )
            .await;
        }
        for m in a.body["messages"].as_array().unwrap() {
            texts.push(
                m["message_parts"][0]["text"]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        match a.body.get("link") {
            Some(link) => {
                assert_eq!(link.as_object().unwrap().len(), 1, "{link}");
                let href = link["href"].as_str().unwrap();
                assert!(href.starts_with("/v2/conversations/"), "{href}");
                assert!(
                    href.contains("from_time=") && href.contains("items_per_page=5"),
                    "{href}"
                );
                path = href.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut want = vec!["Conversation was resolved by Agent.".to_owned()];
    want.extend((0..12).rev().map(|i| format!("m{i}")));
    assert_eq!(texts, want);
    // from_time keeps messages at or after a time (how integrators re-read one message).
    let all = env.sim.messages(&cid);
    let t = all[5]["created_time"].as_str().unwrap();
    let a = env
        .get(&format!(
            "/v2/conversations/{cid}/messages?from_time={t}&items_per_page=50"
        ))
        .await;
    let got = a.body["messages"].as_array().unwrap();
    assert_eq!(got.len(), all.len() - 5);
    assert_eq!(got.last().unwrap()["id"], all[5]["id"]);
    // items_per_page is capped at 50; bad values are refused.
    for i in 0..50 {
        env.user_says(&cid, &uid, &format!("n{i}")).await;
    }
    let a = env
        .get(&format!(
            "/v2/conversations/{cid}/messages?items_per_page=500"
        ))
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 50);
    assert!(a.body["link"]["href"].is_string());
    let a = env
        .get(&format!(
            "/v2/conversations/{cid}/messages?items_per_page=x"
        ))
        .await;
    assert_eq!(a.status, 400);
    let a = env
        .get(&format!(
            "/v2/conversations/{cid}/messages?from_time=yesterday"
        ))
        .await;
    assert_eq!(a.status, 400);
}

/// An earlier run's users and conversations, restored into a new simulator, answer as they did
/// (ids, times, messages), take new messages, and send no webhook of their own; new ids never
/// meet restored ones, and nothing is restored twice.
#[tokio::test]
async fn an_earlier_runs_account_can_be_restored() {
    let before = start(SimConfig::default()).await;
    let uid = before.user(1).await;
    let conv = before.conversation(&uid, "xin chào").await;
    let cid = id(&conv["conversation_id"]);
    let agent = before.sim.default_agent_id();
    before
        .sim
        .agent_sends(&cid, &agent, vec![parts::text("chào anh")])
        .await
        .unwrap();
    let (users, convs, msgs) = (
        before.sim.users(),
        before.sim.conversations(),
        before.sim.messages(&cid),
    );
    assert_eq!(msgs.len(), 2);
    before.sim.shutdown();

    let after = start(SimConfig::default()).await;
    assert!(
        after.sim.restore_conversation(&convs[0], &msgs).is_err(),
        "its user first"
    );
    after.sim.restore_user(&users[0]).unwrap();
    after.sim.restore_conversation(&convs[0], &msgs).unwrap();
    assert!(after.sim.restore_user(&users[0]).is_err());
    assert!(after.sim.restore_conversation(&convs[0], &msgs).is_err());
    assert_eq!(after.get(&format!("/v2/users/{uid}")).await.body, users[0]);
    let mut got = after.get(&format!("/v2/conversations/{cid}")).await.body;
    let mut want = convs[0].clone();
    for c in [&mut got, &mut want] {
        c.as_object_mut().unwrap().remove("url"); // names the simulator's own address
    }
    assert_eq!(got, want);
    assert_eq!(after.sim.messages(&cid), msgs);

    assert_eq!(
        after.user_says(&cid, &uid, "còn hàng không?").await.status,
        201
    );
    assert_eq!(after.sim.messages(&cid).len(), 3);
    let hooks = after.settled().await;
    assert_eq!(hooks.len(), 1, "only the new message: {hooks:?}");
    let other = after.user(2).await;
    let fresh = after.conversation(&other, "hi").await;
    assert!(
        fresh["conversation_internal_id"].as_u64().unwrap()
            > convs[0]["conversation_internal_id"].as_u64().unwrap()
    );
    let new_user = after.get(&format!("/v2/users/{other}")).await.body;
    assert_ne!(new_user["org_contact_id"], users[0]["org_contact_id"]);
}
