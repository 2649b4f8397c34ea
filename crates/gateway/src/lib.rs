//! The gateway: listeners, the ordered request pipeline, routing, the control API.
