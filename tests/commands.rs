//! Commands through the generated API: `CompanyPartnerCommandServer`
//! serves the `company-partner` handlers, `CommandClient::company_get`
//! calls them, through a real redis-server.

use std::time::Duration;

use tokio::sync::oneshot;
use uuid::Uuid;
use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::messaging::{Caller, CommandServer};
use xerpium_events::{
    CommandClient, CommandError, Company, CompanyGetRequest, CompanyGetResponse, CompanyPartnerCommandServer,
    CompanyPartnerCommands, CurrencyConvertRequest, CurrencyConvertResponse, HandlerError, Message,
    PartnerValidateVatRequest, PartnerValidateVatResponse, PublishContext,
};

const PATIENCE: Duration = Duration::from_secs(20);

fn acme(company_id: Uuid) -> Company {
    Company {
        company_id,
        name: "ACME".into(),
        legal_name: "ACME Corporation Ltd".into(),
        vat_number: Some("GB123456789".into()),
        currency: "GBP".into(),
        address: None,
        active: true,
    }
}

/// Knows one company; validates no VAT number.
struct Directory {
    known: Uuid,
}

impl CompanyPartnerCommands for Directory {
    async fn company_get(
        &self,
        request: CompanyGetRequest,
        message: &Message,
    ) -> Result<CompanyGetResponse, HandlerError> {
        if message.envelope.correlation_id != "req-42" {
            return Err(HandlerError::permanent("the correlation id did not come through"));
        }
        let company = (request.company_id == self.known).then(|| acme(self.known));
        Ok(CompanyGetResponse { company })
    }

    async fn partner_validate_vat(
        &self,
        _: PartnerValidateVatRequest,
        _: &Message,
    ) -> Result<PartnerValidateVatResponse, HandlerError> {
        Err(HandlerError::permanent("the VAT register is closed"))
    }

    async fn currency_convert(
        &self,
        _: CurrencyConvertRequest,
        _: &Message,
    ) -> Result<CurrencyConvertResponse, HandlerError> {
        Err(HandlerError::permanent("no rates"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_get_is_served_through_redis() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("company-partner").build().expect("valid config");
    let known = Uuid::now_v7();
    let commands = CommandServer::builder(&config).build().expect("valid server");
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(
        commands.run(CompanyPartnerCommandServer(Directory { known }), async move {
            let _ = stopped.await;
        }),
    );

    let ui = server.config("ui").build().expect("valid config");
    let caller = Caller::connect(&ui)
        .await
        .expect("caller")
        .with_context(PublishContext::new().with_correlation_id("req-42"));
    let found = caller
        .company_get(&CompanyGetRequest { company_id: known })
        .await
        .expect("answered");
    assert_eq!(found.company, Some(acme(known)));
    let missing = caller
        .company_get(&CompanyGetRequest {
            company_id: Uuid::now_v7(),
        })
        .await
        .expect("answered");
    assert_eq!(missing.company, None);

    let refused = caller
        .partner_validate_vat(&PartnerValidateVatRequest {
            country: "GB".into(),
            vat_number: "GB1".into(),
        })
        .await
        .expect_err("refused");
    assert_eq!(
        refused,
        CommandError::Failed {
            command: "partner.validate_vat",
            target: "company-partner",
            reason: "permanent: the VAT register is closed".into(),
        }
    );

    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, serving)
        .await
        .expect("stops in time")
        .expect("server task")
        .expect("server ends cleanly");
}
