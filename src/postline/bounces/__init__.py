"""bounces"""
