//! What only admins do: decide stores' identity verifications, grant and revoke roles. The store
//! writes an audit entry with each, in the same transaction.

use crate::error::{Error, OrNotFound, Result};
use serde::Serialize;
use souk_domain::account::{Role, VerificationRequest};
use souk_store::accounts::User;
use souk_store::Tx;

fn require_admin(user: &User) -> Result<()> {
    if user.has(Role::Admin) {
        Ok(())
    } else {
        Err(Error::forbidden("this needs the admin role"))
    }
}

/// Approves or rejects (with a reason the seller can act on) a pending verification request.
pub async fn decide_verification(
    tx: &mut Tx,
    admin: &User,
    id: &str,
    approve: bool,
    reason: Option<&str>,
) -> Result<VerificationRequest> {
    require_admin(admin)?;
    tx.decide_verification(id, approve, reason, &admin.id).await.or_not_found("verification request")
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Granted {
    pub user_id: String,
    pub roles: Vec<Role>,
}

/// Grants a role (`mediator`, `admin`, `seller`) to a user; everyone is a buyer already.
pub async fn grant_role(tx: &mut Tx, admin: &User, user_id: &str, role: Role) -> Result<Granted> {
    require_admin(admin)?;
    if role == Role::Buyer {
        return Err(Error::invalid("invalid", "everyone is a buyer already").with_field("role"));
    }
    tx.user_by_id(user_id).await.or_not_found("user")?;
    tx.grant_role(user_id, role, &admin.id).await?;
    roles_now(tx, user_id).await
}

/// The user's roles after a change, buyer first.
async fn roles_now(tx: &mut Tx, user_id: &str) -> Result<Granted> {
    let updated = tx.user_by_id(user_id).await?;
    let mut roles = vec![Role::Buyer];
    roles.extend(updated.roles);
    Ok(Granted { user_id: user_id.to_string(), roles })
}

/// Takes the mediator or admin role away from a user. The seller role follows the user's store
/// and buyer is everyone's; an admin cannot take away their own admin role, so that the
/// marketplace is never left without one by mistake.
pub async fn revoke_role(tx: &mut Tx, admin: &User, user_id: &str, role: Role) -> Result<Granted> {
    require_admin(admin)?;
    if !matches!(role, Role::Mediator | Role::Admin) {
        return Err(Error::invalid("invalid", "only the mediator and admin roles can be revoked").with_field("role"));
    }
    if role == Role::Admin && user_id == admin.id {
        return Err(Error::conflict("own_admin_role", "another admin must revoke your admin role"));
    }
    tx.user_by_id(user_id).await.or_not_found("user")?;
    tx.revoke_role(user_id, role, &admin.id).await?;
    roles_now(tx, user_id).await
}
