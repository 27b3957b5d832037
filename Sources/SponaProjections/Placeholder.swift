enum PlaceholderSponaProjections {}
