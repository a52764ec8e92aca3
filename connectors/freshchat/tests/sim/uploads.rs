//! Uploads, where attachments are served (API host behind the key, anonymous CDN), and agent
//! files whose webhook carries no `url`.

use axum::body::Bytes;
use serde_json::json;
use zfsync_freshchat::sim::{FileLinks, SimConfig};

use super::common::{id, start};

#[tokio::test]
async fn uploads_and_where_attachments_are_served() {
    let env = start(SimConfig {
        max_image_bytes: 1000,
        max_file_bytes: 2000,
        ..SimConfig::default()
    })
    .await;
    let form = |field: &str, name: &str, ct: &str, bytes: Vec<u8>| {
        reqwest::multipart::Form::new().part(
            field.to_owned(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(ct)
                .unwrap(),
        )
    };
    let upload = |path: &str, f: reqwest::multipart::Form| {
        env.http
            .post(env.url(path))
            .bearer_auth(env.sim.api_key())
            .multipart(f)
    };
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&32u32.to_be_bytes());
    let a = env
        .send(upload(
            "/v2/images/upload",
            form("image", "pic.png", "image/png", png.clone()),
        ))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["width"].as_u64(), a.body["height"].as_u64()),
        (Some(64), Some(32))
    );
    let img = a.body["url"].as_str().unwrap().to_owned();
    assert!(img.starts_with(env.sim.cdn_url().as_str()), "{img}");
    // The CDN is anonymous, and refuses a request that carries credentials.
    let r = env.http.get(&img).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), png.as_slice());
    assert_eq!(env.sim.cdn_requests_with_credentials(), 0);
    let r = env
        .http
        .get(&img)
        .bearer_auth(env.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(env.sim.cdn_requests_with_credentials(), 1);

    // Field names are not interchangeable; types and caps are checked.
    let a = env
        .send(upload(
            "/v2/images/upload",
            form("file", "pic.png", "image/png", png.clone()),
        ))
        .await;
    assert_eq!(a.status, 400);
    let a = env
        .send(upload(
            "/v2/images/upload",
            form("image", "a.pdf", "application/pdf", vec![1]),
        ))
        .await;
    assert_eq!(a.status, 400);
    let a = env
        .send(upload(
            "/v2/images/upload",
            form("image", "big.png", "image/png", vec![0; 1001]),
        ))
        .await;
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    assert_eq!(a.body["code"], 413);
    let a = env
        .send(upload(
            "/v2/files/upload",
            form("file", "big.bin", "application/octet-stream", vec![0; 2001]),
        ))
        .await;
    assert_eq!(a.status, 413);

    // Files live on the API host, behind the key.
    let a = env
        .send(upload(
            "/v2/files/upload",
            form(
                "file",
                "hợp đồng.pdf",
                "application/pdf",
                b"%PDF-1".to_vec(),
            ),
        ))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["file_size"], 6);
    assert_eq!(a.body["file_extension_type"], "pdf");
    assert_eq!(a.body["file_security_status"], "safe");
    let url = a.body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(env.sim.base_url().as_str()), "{url}");
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 401);
    let r = env
        .http
        .get(&url)
        .bearer_auth(env.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("h%E1%BB%A3p"));

    // A file part may reference the upload by its hash; the stored part gets the URL.
    let uid = env.user(6).await;
    let cid = id(&env.conversation(&uid, "hi").await["conversation_id"]);
    let hash = a.body["file_hash"].as_str().unwrap();
    let m = env
        .post(
            &format!("/v2/conversations/{cid}/messages"),
            json!({"actor_type": "user", "actor_id": uid, "message_parts": [{"file": {
                "name": "hợp đồng.pdf", "file_size_in_bytes": 6, "content_type": "application/pdf",
                "file_extension": "pdf", "fileHash": hash, "fileSource": "FRESHCHAT"}}]}),
        )
        .await;
    assert_eq!(m.status, 201, "{}", m.body);
    assert_eq!(m.body["message_parts"][0]["file"]["url"], url.as_str());
}

#[tokio::test]
async fn agent_files_without_url_are_found_by_reading_the_message() {
    let env = start(SimConfig {
        file_links: FileLinks::DownloadUrlOnly,
        ..SimConfig::default()
    })
    .await;
    let uid = env.user(7).await;
    let cid = id(&env.conversation(&uid, "send the contract").await["conversation_id"]);
    let agent = env.sim.default_agent_id();
    let m = env
        .sim
        .agent_sends_file(
            &cid,
            &agent,
            "contract.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF-1.7"),
            None,
        )
        .await
        .unwrap();
    let bodies = env.settled().await;
    let hook = bodies.last().unwrap();
    let part = &hook["data"]["message"]["message_parts"][0]["file"];
    assert!(part.get("url").is_none(), "{part}");
    let download = part["download_url"].as_str().unwrap();
    // Re-reading the message through the API gives the URL.
    let t = m["created_time"].as_str().unwrap();
    let a = env
        .get(&format!("/v2/conversations/{cid}/messages?from_time={t}"))
        .await;
    let stored = &a.body["messages"][0]["message_parts"][0]["file"];
    let url = stored["url"].as_str().unwrap();
    assert_eq!(url, download);
    let r = env
        .http
        .get(url)
        .bearer_auth(env.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"%PDF-1.7");
    // Per message, and by switch, the URL can come along again.
    env.sim.set_file_links(FileLinks::Url);
    env.sim
        .agent_sends_file(
            &cid,
            &agent,
            "b.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF"),
            None,
        )
        .await
        .unwrap();
    env.sim
        .agent_sends_file(
            &cid,
            &agent,
            "c.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF"),
            Some(FileLinks::DownloadUrlOnly),
        )
        .await
        .unwrap();
    let bodies = env.settled().await;
    let n = bodies.len();
    assert!(bodies[n - 2]["data"]["message"]["message_parts"][0]["file"]["url"].is_string());
    assert!(bodies[n - 1]["data"]["message"]["message_parts"][0]["file"]
        .get("url")
        .is_none());
}

/// Named after a regional storage bucket, the CDN's links carry that name, it serves under that
/// name (resolved to its address by the caller) and refuses another name as S3 does; links given
/// out before keep working.
#[tokio::test]
async fn the_cdn_goes_by_a_storage_bucket_name() {
    let env = start(SimConfig::default()).await;
    let before = env
        .sim
        .upload_for_agent("a.png", "image/png", Bytes::from_static(b"\x89PNG one"));
    let bucket = "fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com";
    env.sim.set_cdn_host(bucket).unwrap();
    assert!(env.sim.set_cdn_host("not a host/").is_err());
    let url = env
        .sim
        .upload_for_agent("b.png", "image/png", Bytes::from_static(b"\x89PNG two"));
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some(bucket), "{url}");
    assert_eq!(parsed.port(), env.sim.cdn_addr().port());
    assert!(url.starts_with(env.sim.cdn_url().as_str()), "{url}");
    let cdn = env.sim.cdn_addr().socket_addrs(|| None).unwrap()[0];
    let named = reqwest::Client::builder()
        .resolve(bucket, cdn)
        .resolve("fc-other.s3.eu-central-1.amazonaws.com", cdn)
        .build()
        .unwrap();
    let r = named.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\x89PNG two");
    let other = url.replace(bucket, "fc-other.s3.eu-central-1.amazonaws.com");
    let r = named.get(&other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("NoSuchBucket"));
    let r = env.http.get(&before).send().await.unwrap();
    assert_eq!(r.status(), 200, "{before}");
}

/// A file kept in storage elsewhere: its address on the API host still needs the key, and answers
/// `302 Found` to the storage location (the client must go there itself).
#[tokio::test]
async fn a_file_kept_elsewhere_redirects_to_its_storage() {
    let env = start(SimConfig::default()).await;
    let location = "https://fc-use1-00-pics-bkt-00.s3.amazonaws.com/t/a.png?X-Amz-Signature=s";
    let url = env.sim.upload_for_agent_elsewhere("a.png", location);
    assert!(
        url.starts_with(&format!("{}v2/files/", env.sim.base_url())),
        "{url}"
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "the key is still needed");
    let r = no_redirects
        .get(&url)
        .bearer_auth(env.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], location);
}
