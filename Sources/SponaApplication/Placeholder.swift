enum PlaceholderSponaApplication {}
