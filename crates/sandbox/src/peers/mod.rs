//! Harnesses for the real third-party peers installed by `tests/peers/install.sh`.
