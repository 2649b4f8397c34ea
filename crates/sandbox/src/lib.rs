//! Fake Entra ID and fake Azure Resource Manager for the demo and the tests.
