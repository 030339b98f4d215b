"""registrar"""
