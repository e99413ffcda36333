"""The hotline by voice: the IVR state machine, verification, answers from data, call legs,
routing to agents with their whisper and screen pop, and the Twilio REST client."""
