"""The controller's steps: one mixin per part of the protocol, sharing the state of
bookkeeping.ControllerBase; each handles its facts and says its commands."""
