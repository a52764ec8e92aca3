//! Webhooks as Freshchat sends them: headers, signatures checked independently, the 2022 and 2021
//! shapes, what agents and bots send, reopen before the customer's message, retries and modes.

use axum::body::Bytes;
use serde_json::{json, Value};
use zfsync_freshchat::sim::{parts, AgentMessage, Card, SimConfig, WebhookMode, WebhookShape};

use super::common::{id, is_iso_ms, pem_der, start, verify};

#[tokio::test]
async fn every_webhook_is_signed_with_the_published_key() {
    let env = start(SimConfig::default()).await;
    let pem = env.sim.public_key_pem();
    assert!(pem.starts_with("-----BEGIN RSA PUBLIC KEY-----\n"), "{pem}");
    assert!(pem
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----"))
        .all(|l| l.len() <= 64));
    let one = env.sim.public_key_pem_one_line();
    assert!(!one.contains('\n'));
    let der = pem_der(&pem);
    assert_eq!(der, pem_der(&one));
    assert_eq!(der, env.sim.public_key_spki_der());
    // SPKI content (the quirk), not PKCS#1: `SEQUENCE { SEQUENCE { rsaEncryption ...`.
    use base64::Engine as _;
    assert!(base64::engine::general_purpose::STANDARD
        .encode(&der)
        .starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"));

    let uid = env.user(1).await;
    let cid = id(&env.conversation(&uid, "Xin chào 👋 হাই").await["conversation_id"]);
    env.sim
        .agent_sends(
            &cid,
            &env.sim.default_agent_id(),
            vec![parts::text("chào bạn")],
        )
        .await
        .unwrap();
    env.settled().await;
    let hooks = env.recv.hooks();
    assert_eq!(hooks.len(), 2);
    for h in &hooks {
        let sig = h.header("x-freshchat-signature").unwrap();
        assert!(verify(&der, &h.body, &sig), "signature over the raw body");
        let mut tampered = h.body.to_vec();
        tampered.push(b' ');
        assert!(!verify(&der, &tampered, &sig));
        assert_eq!(
            h.header("x-freshchat-payload-version").as_deref(),
            Some("1.0")
        );
        assert_eq!(h.header("x-retry-count").as_deref(), Some("0"));
        assert!(h
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
    }
    // The control route publishes the same key.
    let text = env
        .http
        .get(env.url("/sim/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem_der(&text), der);
}

#[tokio::test]
async fn the_2022_shape_by_default() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(2).await;
    let cid = id(&env.conversation(&uid, "hello").await["conversation_id"]);
    let agent = env.sim.add_agent("Lan");
    env.sim
        .agent_sends(&cid, &agent, vec![parts::text("hi")])
        .await
        .unwrap();
    env.sim.agent_note(&cid, &agent, "internal").await.unwrap();
    env.sim.bot_note(&cid, "bot thinks: VIP").await.unwrap();
    env.sim
        .bot_sends(
            &cid,
            AgentMessage::text("Pick one")
                .with_reply_parts(vec![parts::quick_replies(&["Yes", "No"])]),
        )
        .await
        .unwrap();
    let bodies = env.settled().await;
    let msgs: Vec<&Value> = bodies.iter().map(|b| &b["data"]["message"]).collect();
    // The customer's message: actor user, no user_id, no message_type.
    assert_eq!(
        bodies[0]["actor"],
        json!({"actor_type": "user", "actor_id": uid})
    );
    assert!(msgs[0].get("user_id").is_none());
    assert!(msgs[0].get("message_type").is_none());
    // An agent's normal message: no message_type, camelCase flags beside snake_case keys.
    let m = msgs[1];
    assert!(m.get("message_type").is_none(), "{m}");
    assert_eq!(
        (
            m["restrictResponse"].as_bool(),
            m["botsPrivateNote"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(m["user_id"], uid.as_str());
    assert_eq!(m["actor_id"], agent.as_str());
    assert!(m["interaction_id"].as_str().unwrap().contains('-'));
    assert!(is_iso_ms(&m["created_time"]) && is_iso_ms(&bodies[1]["action_time"]));
    assert!(m.get("message_source").is_none() && m.get("org_actor_id").is_none());
    // An agent's private note says so.
    assert_eq!(msgs[2]["message_type"], "private");
    // A bot's internal note is marked only by botsPrivateNote.
    assert_eq!(bodies[3]["actor"]["actor_type"], "bot");
    assert!(msgs[3].get("message_type").is_none());
    assert_eq!(msgs[3]["botsPrivateNote"], true);
    // Quick replies live in reply_parts.
    assert_eq!(
        msgs[4]["reply_parts"],
        json!([{"collection": {"sub_parts": [
            {"quick_reply_button": {"label": "Yes"}}, {"quick_reply_button": {"label": "No"}}]}}])
    );
    assert_eq!(
        msgs[4]["message_parts"],
        json!([{"text": {"content": "Pick one"}}])
    );
    // Read back through the API, every message has a message_type.
    let api = env.sim.messages(&cid);
    assert!(api
        .iter()
        .all(|m| m["message_type"] == "normal" || m["message_type"] == "private"));
    assert_eq!(api[3]["botsPrivateNote"], true);
    assert_eq!(api[3]["message_type"], "normal");
}

#[tokio::test]
async fn the_2021_shape_on_request() {
    let env = start(SimConfig {
        webhook_shape: WebhookShape::V2021,
        ..SimConfig::default()
    })
    .await;
    let uid = env.user(3).await;
    let cid = id(&env.conversation(&uid, "hello").await["conversation_id"]);
    env.sim
        .agent_sends(&cid, &env.sim.default_agent_id(), vec![parts::text("hi")])
        .await
        .unwrap();
    env.sim
        .resolve(&cid, &env.sim.default_agent_id())
        .await
        .unwrap();
    let bodies = env.settled().await;
    for b in &bodies[..2] {
        let m = &b["data"]["message"];
        assert_eq!(m["message_type"], "normal");
        assert!(m["message_source"].is_string());
        assert!(m["org_actor_id"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit()));
        assert!(m.get("restrictResponse").is_none() && m.get("botsPrivateNote").is_none());
    }
    let conv = &bodies[2]["data"]["resolve"]["conversation"];
    assert!(conv.get("skill_id").is_none() && conv.get("sla_breached").is_none());
    // Switch back at run time, by the control route.
    let r = env
        .http
        .put(env.url("/sim/webhook-shape"))
        .json(&json!({"shape": "2022"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    env.recv.clear();
    env.user_says(&cid, &uid, "back").await;
    let bodies = env.settled().await;
    let m = &bodies[1]["data"]["message"];
    assert!(m.get("message_type").is_none() && m["botsPrivateNote"] == false);
}

#[tokio::test]
async fn agents_send_every_kind_of_part() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(4).await;
    let cid = id(&env.conversation(&uid, "show me").await["conversation_id"]);
    let agent = env.sim.default_agent_id();
    let img = env
        .sim
        .agent_sends_image(
            &cid,
            &agent,
            "shoe.png",
            "image/png",
            Bytes::from_static(b"\x89PNG"),
        )
        .await
        .unwrap();
    let card = Card {
        title: "Giày".into(),
        description: "Size 42".into(),
        image_url: Some(
            img["message_parts"][0]["image"]["url"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        select: Some(("Chọn".into(), "shoe-42".into())),
        view: Some(("https://shop.example/42".into(), "Xem".into())),
    };
    let message = AgentMessage::new(vec![
        parts::text("Options"),
        parts::url_button("https://shop.example", "Shop"),
        parts::unknown("sticker", json!({"sticker_id": "e1540df031b5deb81a4"})),
    ])
    .with_reply_parts(vec![
        parts::dropdown(&[("Size 41", "41"), ("Size 42", "42")]),
        parts::carousel(&[card]),
    ]);
    env.sim
        .agent_sends_message(&cid, &agent, message)
        .await
        .unwrap();
    let bodies = env.settled().await;
    let image_part = &bodies[1]["data"]["message"]["message_parts"][0]["image"];
    let url = image_part["url"].as_str().unwrap();
    assert!(url.starts_with(env.sim.cdn_url().as_str()));
    assert_eq!(env.http.get(url).send().await.unwrap().status(), 200);
    let m = &bodies[2]["data"]["message"];
    assert_eq!(m["message_parts"][1]["url_button"]["label"], "Shop");
    assert_eq!(
        m["message_parts"][2]["sticker"]["sticker_id"],
        "e1540df031b5deb81a4"
    );
    let dropdown = &m["reply_parts"][0]["template_content"];
    assert_eq!(dropdown["type"], "quick_reply_dropdown");
    assert_eq!(dropdown["sections"][0]["name"], "options");
    assert_eq!(
        dropdown["sections"][0]["parts"][1]["quick_reply_button"]["payload"],
        "42"
    );
    let carousel = &m["reply_parts"][1]["template_content"];
    assert_eq!(carousel["type"], "carousel");
    let card = &carousel["sections"][0]["parts"][0]["template_content"];
    assert_eq!(card["type"], "carousel_card_default");
    let names: Vec<&str> = card["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["hero_image", "title", "description", "callback", "view"]
    );
    // Parts must be objects; an empty message is refused; unknown agents and conversations too.
    assert!(env
        .sim
        .agent_sends(&cid, &agent, vec![json!("text")])
        .await
        .is_err());
    assert!(env.sim.agent_sends(&cid, &agent, vec![]).await.is_err());
    assert!(env
        .sim
        .agent_sends(&cid, "ghost", vec![parts::text("x")])
        .await
        .is_err());
    assert!(env
        .sim
        .agent_sends("nope", &agent, vec![parts::text("x")])
        .await
        .is_err());
}

#[tokio::test]
async fn api_posts_come_back_as_the_actor_posted_them() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(5).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let agent = env.sim.default_agent_id();
    let path = format!("/v2/conversations/{cid}/messages");
    for body in [
        json!({"message_parts": [parts::text("as agent")], "actor_type": "agent", "actor_id": agent}),
        json!({"message_parts": [parts::text("bot note")], "actor_type": "bot", "message_type": "private"}),
        json!({"message_parts": [parts::text("bot says")], "actor_type": "bot"}),
    ] {
        assert_eq!(env.post(&path, body).await.status, 201);
    }
    let bodies = env.settled().await;
    assert_eq!(bodies.len(), 4);
    assert_eq!(
        bodies[1]["actor"],
        json!({"actor_type": "agent", "actor_id": agent})
    );
    assert_eq!(bodies[2]["actor"], json!({"actor_type": "bot"}));
    assert_eq!(bodies[2]["data"]["message"]["message_type"], "private");
    assert_eq!(bodies[2]["data"]["message"]["botsPrivateNote"], false);
    assert!(bodies[3]["data"]["message"].get("message_type").is_none());
}

#[tokio::test]
async fn reopen_comes_first_and_shares_the_interaction() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(6).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let agent = env.sim.add_agent("Lan");
    env.sim.assign(&cid, &agent).await.unwrap();
    env.sim.resolve(&cid, &agent).await.unwrap();
    env.user_says(&cid, &uid, "one more thing").await;
    env.sim.reopen(&cid, &agent).await.unwrap_err();
    let bodies = env.settled().await;
    let actions: Vec<&str> = bodies
        .iter()
        .map(|b| b["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "message_create",
            "conversation_assignment",
            "conversation_resolution",
            "conversation_reopen",
            "message_create"
        ]
    );
    let assignment = &bodies[1]["data"]["assignment"];
    assert_eq!(assignment["from_agent_id"], "");
    assert_eq!(assignment["to_agent_id"], agent.as_str());
    assert_eq!(assignment["assignor"], "agent");
    assert_eq!(assignment["conversation"]["status"], "assigned");
    assert!(assignment["interaction_id"].is_string());
    let resolve = &bodies[2]["data"]["resolve"];
    assert_eq!(
        (
            resolve["resolver"].as_str(),
            resolve["resolver_id"].as_str()
        ),
        (Some("agent"), Some(agent.as_str()))
    );
    assert_eq!(resolve["user"]["id"], uid.as_str());
    assert_eq!(resolve["conversation"]["sla_breached"], false);
    let reopen = &bodies[3];
    assert_eq!(
        reopen["actor"],
        json!({"actor_type": "user", "actor_id": uid})
    );
    assert_eq!(reopen["data"]["reopen"]["reopener"], "user");
    assert_eq!(
        reopen["data"]["reopen"]["conversation"]["status"],
        "reopened"
    );
    let interaction = &reopen["data"]["reopen"]["interaction_id"];
    assert!(reopen["data"]["reopen"]["conversation"]
        .get("interaction_id")
        .is_none());
    assert_eq!(&bodies[4]["data"]["message"]["interaction_id"], interaction);
    assert_ne!(&bodies[0]["data"]["message"]["interaction_id"], interaction);
    assert!(reopen["action_time"].as_str() < bodies[4]["action_time"].as_str());
    // API-driven changes name the account's service actor.
    env.recv.clear();
    env.put(
        &format!("/v2/conversations/{cid}"),
        json!({"status": "resolved"}),
    )
    .await;
    let bodies = env.settled().await;
    assert_eq!(bodies[0]["actor"]["actor_type"], "system");
    assert!(bodies[0]["actor"]["actor_id"].is_string());
}

#[tokio::test]
async fn retries_count_up_and_modes_duplicate_or_reorder() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(7).await;
    *env.recv.fail_first.lock().unwrap() = 2;
    let cid = id(&env.conversation(&uid, "retry me").await["conversation_id"]);
    env.settled().await;
    let hooks = env.recv.hooks();
    let counts: Vec<String> = hooks
        .iter()
        .map(|h| h.header("x-retry-count").unwrap())
        .collect();
    assert_eq!(counts, ["0", "1", "2"]);
    assert!(hooks.windows(2).all(|w| w[0].body == w[1].body));
    let d = env.sim.deliveries();
    assert_eq!(
        d.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
    assert!(d
        .iter()
        .all(|r| r.conversation_id.as_deref() == Some(cid.as_str())));

    // Give up after the configured retries.
    env.recv.clear();
    *env.recv.fail_first.lock().unwrap() = 10;
    env.user_says(&cid, &uid, "lost").await;
    env.settled().await;
    assert_eq!(env.recv.hooks().len(), 3);
    *env.recv.fail_first.lock().unwrap() = 0;

    let agent = env.sim.default_agent_id();
    env.recv.clear();
    env.sim.set_webhook_mode(WebhookMode::Duplicate);
    env.sim
        .agent_sends(&cid, &agent, vec![parts::text("twice")])
        .await
        .unwrap();
    env.settled().await;
    let hooks = env.recv.hooks();
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[0].body, hooks[1].body);

    env.recv.clear();
    let r = env
        .http
        .put(env.url("/sim/webhook-mode"))
        .json(&json!({"mode": "reorder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let a = env
        .sim
        .agent_sends(&cid, &agent, vec![parts::text("first")])
        .await
        .unwrap();
    let b = env
        .sim
        .agent_sends(&cid, &agent, vec![parts::text("second")])
        .await
        .unwrap();
    let bodies = env.settled().await;
    let ids: Vec<&Value> = bodies.iter().map(|b| &b["data"]["message"]["id"]).collect();
    assert_eq!(ids, [&b["id"], &a["id"]]);

    // No URL, no delivery.
    env.recv.clear();
    env.sim.set_webhook_mode(WebhookMode::Normal);
    env.sim.set_webhook_url(None);
    env.sim
        .agent_sends(&cid, &agent, vec![parts::text("nobody")])
        .await
        .unwrap();
    assert!(env.settled().await.is_empty());
}

#[tokio::test]
async fn control_routes_drive_agents_and_bots() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(8).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let post = |path: String, body: Value| {
        let req = env.http.post(env.url(&path)).json(&body);
        async move { req.send().await.unwrap() }
    };
    let r = post(
        format!("/sim/conversations/{cid}/reply"),
        json!({"text": "Chọn", "quick_replies": ["Có", "Không"],
               "file": {"name": "a.pdf", "data_base64": "JVBERg==", "without_url": true}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["actor_type"], "agent");
    assert!(m["message_parts"][1]["file"]["url"].is_string());
    let r = post(
        format!("/sim/conversations/{cid}/bot"),
        json!({"text": "VIP", "note": true}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = post(format!("/sim/conversations/{cid}/note"), json!({})).await;
    assert_eq!(r.status(), 400);
    let r = post(format!("/sim/conversations/{cid}/reply"), json!({})).await;
    assert_eq!(r.status(), 400);
    let r = post("/sim/conversations/nope/reply".into(), json!({"text": "x"})).await;
    assert_eq!(r.status(), 404);
    let r = post(format!("/sim/conversations/{cid}/close"), json!({})).await;
    assert_eq!(r.status(), 404);
    let r = post(format!("/sim/conversations/{cid}/resolve"), json!({})).await;
    let conv: Value = r.json().await.unwrap();
    assert_eq!(conv["status"], "resolved");
    let bodies = env.settled().await;
    let hook = &bodies[1]["data"]["message"];
    assert!(hook["message_parts"][1]["file"].get("url").is_none());
    assert_eq!(
        hook["reply_parts"][0]["collection"]["sub_parts"][0]["quick_reply_button"]["label"],
        "Có"
    );
    assert_eq!(bodies[2]["data"]["message"]["botsPrivateNote"], true);
    let state: Value = env
        .http
        .get(env.url("/sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["users"][0]["id"], uid.as_str());
    assert_eq!(state["conversations"][0]["status"], "resolved");
    assert_eq!(state["deliveries"], 4);
    let d: Value = env
        .http
        .get(env.url("/sim/deliveries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d.as_array().unwrap().len(), 4);
    let msgs: Value = env
        .http
        .get(env.url(&format!("/sim/conversations/{cid}/messages")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        msgs.as_array().unwrap().len(),
        4,
        "three messages and the resolution notice"
    );
}

/// `GET /sim` lists the control routes, and every route it lists is served (an unknown path
/// would answer axum's bare 404, a wrong method 405).
#[tokio::test]
async fn the_sim_index_lists_routes_that_exist() {
    let env = start(SimConfig::default()).await;
    let uid = env.user(9).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let index: Value = env
        .http
        .get(env.url("/sim"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(index["simulator"], "freshchat");
    let routes = index["routes"].as_array().unwrap();
    assert!(routes.len() > 15, "{index}");
    let listed = |m: &str, p: &str| routes.iter().any(|r| r["method"] == m && r["path"] == p);
    assert!(listed("POST", "/sim/conversations/{id}/reply"));
    for r in routes {
        let (method, path) = (r["method"].as_str().unwrap(), r["path"].as_str().unwrap());
        assert!(!r["does"].as_str().unwrap().is_empty(), "{r}");
        let url = env.url(&path.replace("{id}", &cid));
        let req = match method {
            "GET" => env.http.get(url),
            "POST" => env.http.post(url).json(&json!({})),
            "PUT" => env.http.put(url).json(&json!({})),
            other => panic!("unexpected method {other}"),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is listed but not served");
        assert!(
            !(status == 404 && body.is_empty()),
            "{method} {path} is listed but not served"
        );
    }
}

/// `PUT /sim/groups` sets the account's agent groups: `GET /v2/groups` lists them (an id is made
/// for a group given by name only), and a conversation may then be created in one of them.
#[tokio::test]
async fn the_account_groups_are_set_over_http() {
    let env = start(SimConfig::default()).await;
    let set = env
        .put(
            "/sim/groups",
            json!({"groups": [{"name": "Sales"}, {"id": "g-support", "name": "Support"}]}),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.body);
    let listed = env.get("/v2/groups").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let groups = listed.body["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Sales", "Support"], "{}", listed.body);
    assert!(!groups[0]["id"].as_str().unwrap().is_empty());
    assert_eq!(groups[1]["id"], "g-support");
    let refused = env
        .put("/sim/groups", json!({"groups": [{"id": "x"}]}))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}
