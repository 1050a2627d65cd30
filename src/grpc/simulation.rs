//! `statusgate.v1.SimulationService`: the simulated worker's rules. Role
//! `admin` (the role table: the rules configure the server, like
//! credentials), and since the rules apply to every account,
//! only for a caller bound to all accounts (or any caller with `--auth
//! none`): a credential bound to one account is `PERMISSION_DENIED`.

use tonic::{Request, Response, Status};

use super::auth::{access_denied, principal_of};
use super::proto::simulation_service_server::SimulationService as SimulationServiceApi;
use super::proto::{
    GetSimulationRulesRequest, GetSimulationRulesResponse, SetSimulationRulesRequest,
    SetSimulationRulesResponse,
};
use super::resource_requests::to_status;
use crate::domain::credential::AccountBinding;
use crate::service::SimulationService;

pub struct SimulationApi {
    simulation: SimulationService,
}

impl SimulationApi {
    pub fn new(simulation: SimulationService) -> Self {
        Self { simulation }
    }
}

/// Refuses a caller bound to one account.
fn check_all_accounts<T>(request: &Request<T>) -> Result<(), Status> {
    match principal_of(request) {
        Some(principal) if matches!(principal.binding, AccountBinding::Account(_)) => {
            Err(access_denied(format!(
                "User: {} is bound to one account; the simulation rules apply to every account and need a credential bound to all accounts",
                principal.access_key_id
            )))
        }
        Some(_) | None => Ok(()),
    }
}

#[tonic::async_trait]
impl SimulationServiceApi for SimulationApi {
    async fn set_simulation_rules(
        &self,
        request: Request<SetSimulationRulesRequest>,
    ) -> Result<Response<SetSimulationRulesResponse>, Status> {
        check_all_accounts(&request)?;
        let count = self
            .simulation
            .set_rules(&request.into_inner().rules)
            .await
            .map_err(to_status)?;
        Ok(Response::new(SetSimulationRulesResponse {
            rule_count: i32::try_from(count).unwrap_or(i32::MAX),
        }))
    }

    async fn get_simulation_rules(
        &self,
        request: Request<GetSimulationRulesRequest>,
    ) -> Result<Response<GetSimulationRulesResponse>, Status> {
        check_all_accounts(&request)?;
        let rules = self.simulation.rules_document().await.map_err(to_status)?;
        Ok(Response::new(GetSimulationRulesResponse { rules }))
    }
}
