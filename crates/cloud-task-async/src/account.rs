//! The signed-in user: device sign-in (`login`) and the profile (`whoami`), driven by
//! the core's [`DeviceLogin`] and [`GetProfile`].

use cloud_task_core::{
    DeviceCode, DeviceLogin, GetProfile, LoginAccount, LoginOptions, Result, UserProfile,
};

use crate::client::Client;
use crate::engine::Engine;

impl Client {
    /// The user the key belongs to, from the account API (`GET {api_url}/v1/users/profile`,
    /// the key bare in `Authorization`, as OOMOL's CLI checks it). A refused key is
    /// [`Error::Api`](cloud_task_core::Error::Api) with status 401 or 403; no key is
    /// refused before anything is sent.
    pub async fn whoami(&self) -> Result<UserProfile> {
        self.execute(&GetProfile).await
    }

    /// Signs in as OOMOL's CLI does (device login): asks the account API for a code, calls
    /// `on_code` once with it (show its `verify_code_url` and `code` to the user, or open
    /// the page), then asks every 2 s whether the user confirmed it, until they do, the code
    /// expires (at most [`MAX_LOGIN_WAIT`](cloud_task_core::MAX_LOGIN_WAIT)), the options'
    /// timeout passes ([`Error::Timeout`](cloud_task_core::Error::Timeout)) or their cancel
    /// token fires ([`Error::Cancelled`](cloud_task_core::Error::Cancelled)).
    ///
    /// Answers the account: its key, the domain it is valid for, the user. No key is sent
    /// while signing in; the client's own key, if any, is left as it was. Build a client
    /// for the account with `.endpoint(&account.endpoint).api_key(account.api_key.clone())`.
    pub async fn login(
        &self,
        options: LoginOptions,
        mut on_code: impl FnMut(&DeviceCode) + Send,
    ) -> Result<LoginAccount> {
        let login = DeviceLogin::new(self.config(), options, self.now());
        Engine::new(self, login).run(|_, code| on_code(&code)).await
    }
}
