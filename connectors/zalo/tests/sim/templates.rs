//! ZBS template messages (reference §2.2) through the simulator's HTTP surface only, as an
//! integrator driving the sandbox would: a template approved with `POST /sim/templates` and listed
//! by `GET /sim/templates` is sent with `POST /v3.0/oa/message/template`, answered with
//! `data.quota{quota_type, remain}` and recorded; the refusals (unknown id, a parameter missing or
//! unknown, phone-only, an interaction more than a year old) carry Zalo's codes.

use serde_json::{json, Value};
use zfsync_zalo::sim::SimConfig;

use super::*;

const PATH: &str = "/v3.0/oa/message/template";

async fn control(sim: &zfsync_zalo::sim::ZaloSim, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = sim.api_base().join(path.trim_start_matches('/')).unwrap();
    let http = reqwest::Client::new();
    let req = match body {
        Some(b) => http.post(url).json(&b),
        None => http.get(url),
    };
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_template_approved_over_http_is_sent_and_refusals_carry_zalos_codes() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    active_user(&sim, USER);
    let send = |template_id: &str, data: Value| json!({"user_id": USER, "template_id": template_id, "template_data": data});

    // Nothing is approved yet: Zalo refuses the id.
    let r = api_post(&sim, PATH, &tok, &send("12056", json!({"order": "DH1"}))).await;
    assert_eq!(
        (r["error"].as_i64(), r["message"].as_str()),
        (Some(-201), Some("template_id is invalid!"))
    );

    // Approve it; its parameters are the text's <key>s.
    let (status, approved) = control(
        &sim,
        "/sim/templates",
        Some(json!({"template_id": "12056", "text": "Chào <customer>, đơn <order> đã giao."})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["params"], json!(["customer", "order"]));
    let (status, _) = control(
        &sim,
        "/sim/templates",
        Some(json!({"template_id": "", "text": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    control(
        &sim,
        "/sim/templates",
        Some(json!({"template_id": "777", "text": "Mã của bạn", "by_uid": false})),
    )
    .await;
    let (_, list) = control(&sim, "/sim/templates", None).await;
    let ids: Vec<&str> = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["12056", "777"]);

    // A parameter missing, or one the template does not have.
    let r = api_post(&sim, PATH, &tok, &send("12056", json!({"order": "DH1"}))).await;
    assert_eq!(r["message"], "template_data.customer is invalid!");
    let r = api_post(
        &sim,
        PATH,
        &tok,
        &send(
            "12056",
            json!({"order": "DH1", "customer": "Lan", "x": "y"}),
        ),
    )
    .await;
    assert_eq!(r["message"], "template_data.x is invalid!");
    // Phone-number sends only.
    let r = api_post(&sim, PATH, &tok, &send("777", json!({}))).await;
    assert_eq!(r["error"], -249);

    // Sent: the quota names the type and what remains (a string, like the CS quota's).
    let r = api_post(
        &sim,
        PATH,
        &tok,
        &send("12056", json!({"order": "DH1", "customer": "Lan"})),
    )
    .await;
    assert_eq!(r["error"], 0, "{r}");
    assert_eq!(r["data"]["quota"]["quota_type"], "template");
    let remain: u32 = r["data"]["quota"]["remain"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let again = api_post(
        &sim,
        PATH,
        &tok,
        &send("12056", json!({"order": "DH2", "customer": "Lan"})),
    )
    .await;
    assert_eq!(
        again["data"]["quota"]["remain"].as_str().unwrap(),
        (remain - 1).to_string()
    );
    let (_, sent) = control(&sim, &format!("/sim/users/{USER}/sent"), None).await;
    assert_eq!(sent[0]["message"]["text"], "Chào Lan, đơn DH1 đã giao.");

    // A customer whose last interaction is more than a year old is out of ZBS's reach.
    let year_and_a_day = 366 * 24 * 3600 * 1000;
    sim.set_last_interaction(USER, sim.now_ms() - year_and_a_day);
    let r = api_post(
        &sim,
        PATH,
        &tok,
        &send("12056", json!({"order": "DH3", "customer": "Lan"})),
    )
    .await;
    assert_eq!(r["error"], -232, "{r}");
}
