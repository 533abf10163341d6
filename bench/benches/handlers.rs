//! Warm per-request cost of each handler in-process, on the embedded store (no network, no
//! runtime API): what a warm Lambda spends in our code per request, before DynamoDB's latency.
//!
//! `cargo bench -p kenpo-bench --bench handlers` (scripts/bench.sh). Each sample gets a member
//! prepared (outside the timing) at the step the handler moves on; `noop_block_on` is the cost of
//! the harness itself (entering the Tokio runtime), to subtract.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use divan::Bencher;
use kenpo_shared::clock::Clock;
use kenpo_tests::{TestApp, embedded_app, member, request};
use lambda_http::{Body, Request};

fn main() {
    divan::main();
}

struct Ctx {
    rt: tokio::runtime::Runtime,
    t: TestApp,
}

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let t = rt.block_on(embedded_app());
        Ctx { rt, t }
    })
}

const INSURER: &str = "06133946";
const BIRTH: &str = "19810403";

/// A new member, logged in, moved through the first `steps` steps; returns the cookie.
fn prepared(steps: usize) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let c = ctx();
    let id = format!("W{:06}", NEXT.fetch_add(1, Ordering::Relaxed));
    c.rt.block_on(async {
        c.t.store
            .put_members(&[member(&id, INSURER, BIRTH)])
            .await
            .unwrap();
        let cookie = c.t.login(&id).await;
        let bodies = [
            (
                "POST",
                "/api/signup/identity",
                Some(format!(
                    r#"{{"insurerNumber":"{INSURER}","birthDate":"{BIRTH}"}}"#
                )),
            ),
            (
                "POST",
                "/api/signup/consent",
                Some(format!(
                    r#"{{"termsVersion":"{}","agreed":true}}"#,
                    c.t.app.settings.terms_version.as_str()
                )),
            ),
            (
                "PUT",
                "/api/signup/preferences",
                Some(
                    r#"{"email":"taro..yamada@docomo.ne.jp","notifyMedicalExpenses":true}"#
                        .to_string(),
                ),
            ),
            ("POST", "/api/signup/confirm", Some(r#"{"version":3}"#.to_string())),
        ];
        for (method, path, body) in bodies.into_iter().take(steps) {
            let r = c.t.call(method, path, body.as_deref(), &cookie).await;
            assert_eq!(r.status(), 200, "{path}");
        }
        cookie
    })
}

type Handler =
    fn(
        &'static kenpo_shared::App,
        Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = lambda_http::Response<Body>>>>;

fn run(req: Request, handler: Handler) -> u16 {
    let c = ctx();
    c.rt.block_on(handler(&c.t.app, req)).status().as_u16()
}

#[divan::bench]
fn noop_block_on() -> u32 {
    ctx().rt.block_on(async { divan::black_box(1) })
}

#[divan::bench]
fn portal_entry_sso(b: Bencher) {
    b.with_inputs(|| {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let c = ctx();
        let id = format!("S{:06}", NEXT.fetch_add(1, Ordering::Relaxed));
        c.rt.block_on(c.t.store.put_members(&[member(&id, INSURER, BIRTH)]))
            .unwrap();
        let token = kenpo_shared::handoff::sign_hs256(
            &c.t.app.settings.sso_jwt_secret,
            &id,
            c.t.clock.now().timestamp(),
            120,
        );
        kenpo_tests::sso_request(&token)
    })
    .bench_local_values(|req| {
        let c = ctx();
        c.rt.block_on(portal_entry::handle(&c.t.app, &c.t.dev.handoff, req)).status().as_u16()
    });
}

#[divan::bench]
fn web_pages_identity_screen(b: Bencher) {
    b.with_inputs(|| request("GET", "/signup/identity", None, None))
        .bench_local_values(|req| {
            let c = ctx();
            c.rt.block_on(web_pages::handle(&c.t.app.settings, req)).status().as_u16()
        });
}

#[divan::bench]
fn signup_status(b: Bencher) {
    let cookie = prepared(1);
    b.with_inputs(|| request("GET", "/api/signup", None, Some(&cookie)))
        .bench_local_values(|req| run(req, |app, req| Box::pin(signup_status::handle(app, req))));
}

#[divan::bench]
fn verify_identity(b: Bencher) {
    let body = format!(r#"{{"insurerNumber":"{INSURER}","birthDate":"{BIRTH}"}}"#);
    b.with_inputs(|| {
        request(
            "POST",
            "/api/signup/identity",
            Some(&body),
            Some(&prepared(0)),
        )
    })
    .bench_local_values(|req| run(req, |app, req| Box::pin(verify_identity::handle(app, req))));
}

#[divan::bench]
fn record_consent(b: Bencher) {
    let body = format!(
        r#"{{"termsVersion":"{}","agreed":true}}"#,
        ctx().t.app.settings.terms_version.as_str()
    );
    b.with_inputs(|| {
        request(
            "POST",
            "/api/signup/consent",
            Some(&body),
            Some(&prepared(1)),
        )
    })
    .bench_local_values(|req| run(req, |app, req| Box::pin(record_consent::handle(app, req))));
}

#[divan::bench]
fn save_preferences(b: Bencher) {
    let body = r#"{"email":"ｔａｒｏ@example.jp","notifyMedicalExpenses":true}"#;
    b.with_inputs(|| {
        request(
            "PUT",
            "/api/signup/preferences",
            Some(body),
            Some(&prepared(2)),
        )
    })
    .bench_local_values(|req| run(req, |app, req| Box::pin(save_preferences::handle(app, req))));
}

#[divan::bench]
fn confirm_signup(b: Bencher) {
    b.with_inputs(|| request("POST", "/api/signup/confirm", Some(r#"{"version":3}"#), Some(&prepared(3))))
        .bench_local_values(|req| run(req, |app, req| Box::pin(confirm_signup::handle(app, req))));
}

#[divan::bench]
fn send_welcome_email_change(b: Bencher) {
    b.with_inputs(|| {
        let c = ctx();
        let cookie = prepared(4);
        let session =
            c.t.app
                .sessions
                .read(
                    request("GET", "/", None, Some(&cookie)).headers(),
                    c.t.clock.now(),
                )
                .unwrap();
        let record =
            c.rt.block_on(c.t.store.get_signup(&session.member_id))
                .unwrap()
                .unwrap();
        kenpo_shared::store::SignupChange {
            old: None,
            new: record,
        }
    })
    .bench_local_values(|change| {
        let c = ctx();
        c.rt.block_on(send_welcome_email::handle_change(&c.t.app, c.t.mailer.as_ref(), &change))
            .is_ok()
    });
}
