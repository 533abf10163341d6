//! The cold-start baseline: a `lambda_http` function that does nothing but answer 200. Built exactly
//! as the functions are (cargo-lambda, release profile), it is the floor the runtime allows.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .body(Body::Empty)
                .expect("a 200"),
        )
    }))
    .await
}
