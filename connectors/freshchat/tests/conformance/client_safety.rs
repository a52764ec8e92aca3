//! The client's safety rules against the replaying server: where the key goes, redirects,
//! `Retry-After`, scrubbed errors, the call observer.

use super::*;

#[tokio::test]
async fn the_key_goes_only_to_the_api_origin() {
    let api = serve(vec![Canned::file(200, "application/pdf", b"file-bytes")]).await;
    let other = serve(vec![Canned::file(200, "image/png", b"cdn-bytes")]).await;
    let c = client_for(&api.base);
    // A file download on the API origin, relative or absolute: with the key.
    assert_eq!(
        &c.download("/v2/files/t/a.pdf", 100).await.unwrap().bytes[..],
        b"file-bytes"
    );
    c.download(api.base.join("/v2/files/t2").unwrap().as_str(), 100)
        .await
        .unwrap();
    // Any other address of the API origin is refused before anything is sent.
    for not_a_file in [
        api.base.join("/v2/agents").unwrap().to_string(),
        "/v2/users/u1".into(),
        "v2/agents".into(),
        "/v2/files/upload".into(),
    ] {
        let e = c.download(&not_a_file, 100).await.unwrap_err();
        assert!(
            matches!(e, FreshchatError::DownloadRefused { .. }),
            "{not_a_file}: {e:?}"
        );
        assert!(!e.is_transient());
    }
    assert_eq!(api.seen().len(), 2, "only the two file downloads were sent");
    // Same host, another port: another origin, so no key.
    let d = c
        .download(other.base.join("/a.png").unwrap().as_str(), 100)
        .await
        .unwrap();
    assert_eq!(&d.bytes[..], b"cdn-bytes");
    assert_eq!(d.filename.as_deref(), Some("a.png"));
    for s in api.seen() {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    assert_eq!(api.seen()[0].target, "/v2/files/t/a.pdf");
    assert_eq!(api.seen()[1].target, "/v2/files/t2");
    assert_eq!(other.seen()[0].header("authorization"), None);
    // Over the limit.
    assert!(matches!(
        c.download("/v2/files/t/a.pdf", 3).await,
        Err(FreshchatError::TooLarge { limit: 3 })
    ));
    assert!(matches!(
        c.download("ftp://x/y", 3).await,
        Err(FreshchatError::BadUrl { .. })
    ));
}

#[tokio::test]
async fn a_keyed_request_never_follows_a_redirect() {
    let storage = serve(vec![Canned::file(200, "application/pdf", b"stored")]).await;
    let to = storage.base.join("/signed/a.pdf").unwrap();
    let api = serve(vec![Canned::json(302, b"").header("location", to.as_str())]).await;
    let c = client_for(&api.base);
    // An API call redirected: the host is not the API; nothing follows it.
    let err = c.get_user("u1").await.unwrap_err();
    assert!(matches!(err, FreshchatError::WrongHost { .. }), "{err:?}");
    assert!(storage.seen().is_empty());
    // A keyed download redirected to storage: fetched again, without the key.
    let d = c.download("/v2/files/t/a.pdf", 100).await.unwrap();
    assert_eq!(&d.bytes[..], b"stored");
    let seen = storage.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/signed/a.pdf");
    assert_eq!(seen[0].header("authorization"), None);
}

#[tokio::test]
async fn downloads_off_the_api_use_the_callers_client() {
    let api = serve(vec![Canned::file(200, "application/pdf", b"%PDF")]).await;
    let other = serve(vec![Canned::file(200, "image/png", b"x")]).await;
    let mut marker = reqwest::header::HeaderMap::new();
    marker.insert("x-egress-policy", "zfsync".parse().unwrap());
    let mine = reqwest::Client::builder()
        .default_headers(marker)
        .build()
        .unwrap();
    let c = FreshchatClient::new(
        ClientConfig::new(api.base.clone(), SecretString::from(KEY)).with_download_client(mine),
    )
    .unwrap();
    c.download(other.base.join("/f").unwrap().as_str(), 10)
        .await
        .unwrap();
    c.download("/v2/files/f", 10).await.unwrap();
    assert_eq!(other.seen()[0].header("x-egress-policy"), Some("zfsync"));
    assert_eq!(other.seen()[0].header("authorization"), None);
    // The API origin is reached with the client's own (keyed, no-redirect) client.
    assert_eq!(api.seen()[0].header("x-egress-policy"), None);
    assert!(api.seen()[0].header("authorization").is_some());
}

/// A JSON answer of the API origin is the API talking, not a file: refused, whatever its type
/// says. JSON from storage (an attached `.json` file) is a file.
#[tokio::test]
async fn a_json_answer_of_the_api_is_not_a_file() {
    let agents = br#"{"agents":[{"email":"lan@example.com"}]}"#;
    let api = serve(vec![
        Canned::json(200, agents),
        Canned::file(200, "application/octet-stream", agents),
    ])
    .await;
    let storage = serve(vec![Canned::json(200, agents)]).await;
    let c = client_for(&api.base);
    for _ in 0..2 {
        let e = c.download("/v2/files/t/a.pdf", 1000).await.unwrap_err();
        assert!(
            matches!(&e, FreshchatError::DownloadRefused { reason, .. } if reason.contains("not a file")),
            "{e:?}"
        );
        assert!(!e.to_string().contains("lan@example.com"), "{e}");
    }
    let d = c
        .download(storage.base.join("/export.json").unwrap().as_str(), 1000)
        .await
        .unwrap();
    assert_eq!(&d.bytes[..], agents);
}

/// Refuses anything on the host `127.0.0.1` (the "inside" of these tests), and recognises a
/// refusal of its own by its text.
struct Inside;

impl DownloadGuard for Inside {
    fn check(&self, url: &Url) -> Result<(), String> {
        match url.host_str() {
            Some("127.0.0.1") => Err("127.0.0.1 is inside".into()),
            _ => Ok(()),
        }
    }

    fn refusal(&self, error: &(dyn std::error::Error + 'static)) -> Option<String> {
        let text = error.to_string();
        text.contains("is inside").then_some(text)
    }
}

/// The hop after a keyed redirect goes only where the caller's guard allows: a refused target is
/// never requested, and the refusal is permanent. A refusal of the caller's download client (here,
/// its redirect policy) is reported as a refusal, not as "cannot reach Freshchat".
#[tokio::test]
async fn the_guard_decides_the_hop_after_a_keyed_redirect() {
    let inside = serve(vec![Canned::file(200, "image/png", b"secret")]).await;
    let to = inside.base.join("/latest/meta-data").unwrap();
    let api = serve(vec![Canned::json(302, b"").header("location", to.as_str())]).await;
    let c = FreshchatClient::new(
        ClientConfig::new(api.base.clone(), SecretString::from(KEY))
            .with_download_guard(Arc::new(Inside)),
    )
    .unwrap();
    let e = c.download("/v2/files/t/a.png", 100).await.unwrap_err();
    assert!(
        matches!(&e, FreshchatError::DownloadRefused { reason, .. } if reason == "127.0.0.1 is inside"),
        "{e:?}"
    );
    assert!(!e.is_transient());
    assert!(inside.seen().is_empty(), "the refused target was requested");

    // The caller's own download client refuses a later hop.
    let refusing = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|a| {
            a.error(std::io::Error::other("the next hop is inside"))
        }))
        .build()
        .unwrap();
    let storage = serve(vec![Canned::json(302, b"").header("location", to.as_str())]).await;
    let c = FreshchatClient::new(
        ClientConfig::new(api.base.clone(), SecretString::from(KEY))
            .with_download_client(refusing)
            .with_download_guard(Arc::new(Inside)),
    )
    .unwrap();
    let from_storage = storage.base.join("/a.png").unwrap();
    let e = c.download(from_storage.as_str(), 100).await.unwrap_err();
    assert!(
        matches!(&e, FreshchatError::DownloadRefused { reason, .. } if reason.contains("the next hop is inside")),
        "{e:?}"
    );
    assert!(inside.seen().is_empty());
}

#[tokio::test]
async fn retry_after_is_read_and_clamped() {
    let server = serve(vec![
        Canned::json(429, b"{}").header("retry-after", "3"),
        Canned::json(429, b"{}").header("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT"),
    ])
    .await;
    let c = client_for(&server.base);
    let first = c.get_user("u").await.unwrap_err();
    assert_eq!(first.retry_after(), Some(Duration::from_secs(3)));
    assert!(first.is_transient());
    let far = c.get_user("u").await.unwrap_err();
    assert_eq!(far.retry_after(), Some(MAX_RETRY_AFTER));
}

#[tokio::test]
async fn error_bodies_never_carry_the_key() {
    let echo =
        format!(r#"{{"code":401,"status":"UNAUTHORIZED","message":"bad token Bearer {KEY}"}}"#);
    let server = serve(vec![
        Canned::json(401, echo.as_bytes()),
        Canned::json(500, format!("oops {KEY}").as_bytes()),
    ])
    .await;
    let c = client_for(&server.base);
    for _ in 0..2 {
        let err = c.get_user("u").await.unwrap_err();
        assert!(!err.to_string().contains(KEY), "{err}");
        assert!(!format!("{err:?}").contains(KEY), "{err:?}");
        assert!(err.to_string().contains("[redacted]"), "{err}");
    }
}

#[tokio::test]
async fn html_on_success_means_the_wrong_host() {
    let server = serve(vec![Canned {
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
        body: b"<html>login</html>".to_vec(),
    }])
    .await;
    let err = client_for(&server.base)
        .account_configuration()
        .await
        .unwrap_err();
    assert!(matches!(err, FreshchatError::WrongHost { .. }), "{err:?}");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(Op, &'static str)>>);

impl CallObserver for Recorder {
    fn observe(&self, op: Op, outcome: CallOutcome, _elapsed: Duration) {
        self.0.lock().unwrap().push((op, outcome.as_str()));
    }
}

#[tokio::test]
async fn every_call_is_reported_to_the_observer() {
    let server = serve(vec![
        Canned::json(200, br#"{"app_id":"a"}"#),
        Canned::json(
            404,
            br#"{"code":404,"status":"USER_NOT_FOUND","message":"no"}"#,
        ),
        Canned::json(
            400,
            br#"{"code":400,"status":"INVALID_VALUE","message":"unknown property"}"#,
        ),
        Canned::json(200, br#"{"users":[]}"#),
        Canned::json(503, b""),
        Canned::json(200, b"not json"),
    ])
    .await;
    let recorder = Arc::new(Recorder::default());
    let c = FreshchatClient::new(
        ClientConfig::new(server.base.clone(), SecretString::from(KEY))
            .with_observer(recorder.clone()),
    )
    .unwrap();
    c.account_configuration().await.unwrap();
    c.get_user("u").await.unwrap_err();
    let refused = c.create_user(&NewUser::default()).await.unwrap_err();
    assert_eq!(refused.status(), Some(400));
    assert_eq!(refused.api_status(), Some("INVALID_VALUE"));
    assert_eq!(refused.api_message(), Some("unknown property"));
    c.find_users_by_reference_id("r").await.unwrap();
    c.post_message("c", &NewMessage::bot_note("n"))
        .await
        .unwrap_err();
    c.list_messages("c", None, 10).await.unwrap_err();
    c.download("gopher://x", 1).await.unwrap_err();
    assert_eq!(
        recorder.0.lock().unwrap().clone(),
        vec![
            (Op::Account, "ok"),
            (Op::UserGet, "not_found"),
            (Op::UserCreate, "invalid"),
            (Op::UserSearch, "ok"),
            (Op::MessagePost, "server"),
            (Op::MessagesList, "decode"),
            (Op::Download, "refused"),
        ]
    );
}
